# make lab    set up (once) and open the course in JupyterLab: the learner's environment, .venv-lab/;
#             the learner works in work/, a copy of the lessons and exercises
# make lab-zh the same in Chinese: JupyterLab's interface and the Chinese edition, work/zh-CN/
# make teach  nbgrader's course folder, course/ (made if missing), in JupyterLab: the teacher's environment,
#             .venv-teach/
# make test   set up (or update) the developer's environment, .venv/, and run every test
# make check  the same environment; lint, generated files up to date, and every test that starts
#             no kernel, browser, hub or environment (under a minute)
#
# Each runs a Python script, the same command where there is no make (Windows; README): the script makes
# its environment (tools/workspace.py: Python's venv and pip, nothing else) the first time and whenever
# pyproject.toml changes, then runs there. Each environment has only what its user needs
# (pyproject.toml): the learner's the course and what its lessons run; the teacher's adds the `teacher`
# extra (nbgrader, whose panels and menus JupyterLab shows whenever nbgrader is installed); the
# developer's adds the `dev` extra (teacher's + tests).
PYTHON ?= python3
BIN    := .venv/bin
# Extra options for `jupyter lab` (e.g. LAB_ARGS=--port=9999), and for pytest (e.g. PYTEST_ARGS="-k net").
LAB_ARGS ?=
PYTEST_ARGS ?=
# Test processes at once (tools/develop.py gives its reasons for its default, 4), e.g. WORKERS=2.
WORKERS ?=

.PHONY: lab lab-zh zh course students teach test check install exercises bench clean

install:
	$(PYTHON) tools/develop.py install

test:
	$(PYTHON) tools/develop.py test $(if $(WORKERS),-n $(WORKERS)) $(PYTEST_ARGS)

check:
	$(PYTHON) tools/develop.py check $(if $(WORKERS),-n $(WORKERS)) $(PYTEST_ARGS)

# work/ made or brought up to date, then JupyterLab on it, opened at the index (tools/workspace.py).
lab:
	$(PYTHON) tools/workspace.py lab -- $(LAB_ARGS)

lab-zh:
	$(PYTHON) tools/workspace.py lab --zh -- $(LAB_ARGS)

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
teach:
	$(PYTHON) tools/teach.py lab $(COURSE) $(COURSE_ARGS) -- $(LAB_ARGS)

exercises: install
	$(BIN)/python tools/make_exercises.py

bench: install
	$(BIN)/python -m echo_lab bench

clean:
	rm -rf .venv .venv-lab .venv-teach .pytest_cache .hypothesis .cache screenshots
