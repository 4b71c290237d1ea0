# make lab    set up (once) and open the course in JupyterLab: the learner's environment, .venv-lab/;
#             the learner works in work/, a copy of the lessons and exercises. It runs
#             `python3 tools/workspace.py lab`, the same command where there is no make (Windows).
# make lab-zh the same in Chinese: JupyterLab's interface and the Chinese edition, work/zh-CN/
# make teach  the same with nbgrader's tools for a teacher, .venv-teach/
# make test   set up (or update) the developer's environment, .venv/, and run every test
# make check  the same environment; lint, generated files up to date, and every test that starts
#             no kernel, browser, hub or environment (under a minute)
#
# Each environment has only what its user needs (pyproject.toml): the learner's
# the course and what its lessons run; the teacher's adds the `teacher` extra
# (nbgrader, whose panels and menus JupyterLab shows whenever nbgrader is
# installed); the developer's adds the `dev` extra (teacher's + tests).
PYTHON ?= python3
VENV       ?= .venv
TEACH_VENV ?= .venv-teach
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
TEACH_STAMP := $(TEACH_VENV)/.installed
NOTEBOOKS := $(wildcard notebooks/*.ipynb solutions/*.ipynb exercises/*.ipynb)
# Extra options for `jupyter lab` (e.g. LAB_ARGS=--port=9999).
LAB_ARGS ?=

.PHONY: lab lab-zh zh course students teach test check install install-teach exercises bench clean

$(STAMP):       EXTRA := [dev]
$(TEACH_STAMP): EXTRA := [teacher]
$(STAMP) $(TEACH_STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "echo-lab needs Python 3.11 or newer; this is " + sys.version.split()[0])'
	@echo "Setting up $(@D)/ for echo-lab$(EXTRA): JupyterLab, ipywidgets, matplotlib$(if $(EXTRA), and the $(EXTRA) extra)."
	@echo "The first time this takes about a minute (more on a slow network); later runs skip it."
	test -x $(@D)/bin/python || $(PYTHON) -m venv $(@D)
	$(@D)/bin/python -m pip install --disable-pip-version-check --progress-bar off -e '.$(EXTRA)'
	touch $@

install: $(STAMP)
install-teach: $(TEACH_STAMP)

# The learner's JupyterLab: tools/workspace.py makes .venv-lab/ (the course with no extra) the first time
# and whenever pyproject.toml changes, makes or updates work/ (their copy of lessons, exercises and the
# Chinese edition), then starts JupyterLab on it, opened at the index, as an activated environment (its
# terminals' `python` is the course's).
lab:
	$(PYTHON) tools/workspace.py lab -- $(LAB_ARGS)

lab-zh:
	$(PYTHON) tools/workspace.py lab --zh -- $(LAB_ARGS)

# The teacher's JupyterLab, from the environment .venv-teach, run as an activated venv runs it: its
# bin/ first on PATH and VIRTUAL_ENV set (nbgrader runs `alembic` from PATH); its terminals run bash
# with the user's own ~/.bashrc and then the environment's activate script.
teach_lab = printf '%s\n' '[ -f ~/.bashrc ] && . ~/.bashrc' '. "$(abspath $(TEACH_VENV))/bin/activate"' \
	>$(abspath $(TEACH_VENV))/terminal.bashrc && \
	env PATH="$(abspath $(TEACH_VENV))/bin:$$PATH" VIRTUAL_ENV="$(abspath $(TEACH_VENV))" \
	$(abspath $(TEACH_VENV))/bin/jupyter lab $(if $(filter 0,$(shell id -u)),--allow-root) \
	--ServerApp.terminado_settings=shell_command="bash --rcfile '$(abspath $(TEACH_VENV))/terminal.bashrc'" $(LAB_ARGS)

# The Chinese edition from the English notebooks and i18n/zh_CN/*.po: write what changed, run it, make its exercises.
zh: install
	$(BIN)/python tools/translate.py build
	$(BIN)/python tools/translate.py execute
	$(BIN)/python tools/make_exercises.py --solutions zh-CN/solutions --exercises zh-CN/exercises

# A teacher's folders (tools/teach.py): nbgrader's course folder, COURSE (COURSE_ARGS=--each: one assignment
# per exercise; --exchange PATH: a shared exchange), and the learners' copy without solutions, STUDENTS.
COURSE   ?= course
STUDENTS ?= students
course:
	$(PYTHON) tools/teach.py course $(COURSE) $(COURSE_ARGS)

students:
	$(PYTHON) tools/teach.py students $(STUDENTS)

# The teacher's JupyterLab opens in the course folder (made if missing), where nbgrader's Formgrader finds it.
teach: $(TEACH_STAMP)
	test -f $(COURSE)/nbgrader_config.py || $(PYTHON) tools/teach.py course $(COURSE) $(COURSE_ARGS)
	$(TEACH_VENV)/bin/jupyter trust $(NOTEBOOKS)
	cd $(COURSE) && $(teach_lab)

# Test files run on WORKERS processes at once (pytest-xdist; a notebook's cells stay on one). Four on
# this machine's 2 cores: most of a test's time is spent waiting on sockets, kernels, browsers and a hub
# (at three, the cores were still idle a quarter of the time: 6:28, where four took 5:48-6:07),
# and what the tests check holds on a busy machine.
WORKERS ?= 4
# Both write Python's bytecode caches even where PYTHONDONTWRITEBYTECODE is set: pytest keeps each test file
# as its assertions were rewritten (__pycache__/, ignored by git), which each worker would redo (2 s) every run.
test: install
	PYTHONDONTWRITEBYTECODE= $(BIN)/python -m pytest -n $(WORKERS) --dist loadfile --no-loadscope-reorder $(PYTEST_ARGS)

# (no notebook among these: tests go to whichever worker is free; most of their time is spent waiting
# on sockets, so twice as many workers as this machine's 2 cores)
CHECK_WORKERS ?= 4
check: install
	PYTHONDONTWRITEBYTECODE= $(BIN)/python -m pytest tests -n $(CHECK_WORKERS) --dist load -m "not kernel and not browser and not hub and not venv" $(PYTEST_ARGS)

exercises: install
	$(BIN)/python tools/make_exercises.py

bench: install
	$(BIN)/python -m echo_lab bench

clean:
	rm -rf $(VENV) .venv-lab $(TEACH_VENV) .pytest_cache .hypothesis .cache screenshots
