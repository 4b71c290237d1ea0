"""Your copy of the course: the lessons and exercises you work in, kept apart from the course's own files.

    python tools/workspace.py                # make work/, or bring it up to date with the course
    python tools/workspace.py lab [--zh]     # that, then JupyterLab on work/, opened at the course's index
    python tools/workspace.py lab -- ARGS    # ARGS go to `jupyter lab` (make lab passes its LAB_ARGS)

It needs only Python 3.11 or newer, on Linux, macOS and Windows alike: run by
a Python that does not have the course (JupyterLab and echo_lab), it makes the
learner's environment, ``.venv-lab/`` (once, about a minute; again when
pyproject.toml changes), and runs itself there. Run by one that has it (``.venv-lab``'s own, a
conda environment made from environment.yml), it uses that one.
``make lab`` and ``make lab-zh`` run ``lab``. The teacher's and the developer's
commands (tools/teach.py lab, tools/develop.py) make their environments here too
(:func:`environment`, :func:`run_in`). JupyterLab saves every notebook
you open, with your outputs and answers, so you work in copies: ``work/``
holds ``notebooks/``, ``exercises/`` and ``zh-CN/`` as the course ships them,
and git never sees it (.gitignore). The course's own notebooks stay as they
came, so ``git pull`` takes a course update without a conflict; the next
``make lab`` brings it into ``work/``:

* a notebook you have not changed since it was copied is replaced by the new version;
* a notebook you have changed is never touched: the new version is written
  beside it as ``NAME.updated.ipynb``, and the run says so;
* a notebook you deleted is copied again, as the course has it now (the way to start one afresh).

``work/.course.json`` remembers the digest of each notebook as it was copied,
which is how "changed by you" is told from "changed by the course". Copies
are trusted (signed), so their saved pictures and widgets show in JupyterLab.
"""

import argparse
import hashlib
import importlib.util
import json
import os
import pathlib
import shutil
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]
WORK = ROOT / "work"
FOLDERS = ("notebooks", "exercises", "zh-CN/notebooks", "zh-CN/exercises")
INDEX = {"en": "notebooks/00-index.ipynb", "zh": "zh-CN/notebooks/00-index.ipynb"}
MANIFEST = ".course.json"
LEARNER_VENV = ROOT / ".venv-lab"


def digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def course_files(root=ROOT):
    """The notebooks a learner works in, as paths relative to ``root``."""
    return sorted(p.relative_to(root).as_posix() for folder in FOLDERS for p in (root / folder).glob("*.ipynb"))


def sync(root=ROOT, work=WORK):
    """Bring ``work`` up to date with the course in ``root``; return {what happened: [paths]}."""
    manifest_path = work / MANIFEST
    try:
        manifest = json.loads(manifest_path.read_text())
    except FileNotFoundError:
        manifest = {}
    done = {"copied": [], "updated": [], "kept": [], "restored": []}
    for name in course_files(root):
        source, copy = root / name, work / name
        new = digest(source)
        if not copy.exists():
            done["restored" if name in manifest else "copied"].append(name)
        elif digest(copy) == new:
            manifest[name] = new
            continue
        elif digest(copy) == manifest.get(name):
            done["updated"].append(name)  # the learner's copy is as we left it: take the course's new one
        else:  # the learner changed it: theirs stays, the course's new version goes beside it
            if manifest.get(name) != new:
                beside = copy.with_suffix(".updated.ipynb")
                beside.write_bytes(source.read_bytes())
                done["kept"].append(name)
            manifest[name] = new
            continue
        copy.parent.mkdir(parents=True, exist_ok=True)
        copy.write_bytes(source.read_bytes())
        manifest[name] = new
    work.mkdir(parents=True, exist_ok=True)
    manifest_path.write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    as_shipped = [work / name for name in course_files(root) if digest(work / name) == digest(root / name)]
    trust(as_shipped + sorted(work.glob("**/*.updated.ipynb")))
    return done


def trust(paths):
    """Sign ``paths`` as `jupyter trust` does, so JupyterLab shows their saved pictures and widgets."""
    import nbformat
    from nbformat.sign import NotebookNotary

    notary = NotebookNotary()
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        if not notary.check_signature(nb):
            notary.sign(nb)


def report(done, work=WORK):
    lines = [f"Your copy of the course: {work} (your work stays here; `git pull` never touches it)."]
    if done["copied"]:
        folders = sorted({name.rsplit("/", 1)[0] for name in done["copied"]})
        lines.append(f"  copied    {len(done['copied'])} notebooks: {', '.join(folders)}")
    for name in done["restored"]:
        lines.append(f"  restored  {name} (it had been deleted: this is the course's version)")
    for name in done["updated"]:
        lines.append(f"  updated   {name} (you had not changed it)")
    for name in done["kept"]:
        updated = pathlib.PurePosixPath(name).with_suffix(".updated.ipynb")
        lines.append(f"  kept      {name}: yours, changed by you; the course's new version is {updated}")
    if not any(done.values()):
        lines.append("  up to date with the course")
    return "\n".join(lines)


def lab(zh, jupyter_args, work=WORK):
    """Run JupyterLab serving ``work``, opened at the course's index."""
    if zh:  # JupyterLab's interface language is a user setting; this one is kept in work/, for lab --zh only
        settings = work / ".settings-zh"
        plugin = settings / "@jupyterlab" / "translation-extension" / "plugin.jupyterlab-settings"
        plugin.parent.mkdir(parents=True, exist_ok=True)
        plugin.write_text(json.dumps({"locale": "zh_CN"}))
        os.environ["JUPYTERLAB_SETTINGS_DIR"] = str(settings)
    print(f"Opening {INDEX['zh' if zh else 'en']} in JupyterLab; Ctrl-C here stops it.", flush=True)
    jupyterlab(work, f"/lab/tree/{INDEX['zh' if zh else 'en']}", jupyter_args)


def jupyterlab(root_dir, url, jupyter_args):
    """Run JupyterLab serving ``root_dir``, opened at ``url`` (in this process's place, but on Windows).

    From a venv, JupyterLab runs as an activated venv runs it (its scripts first
    on PATH, VIRTUAL_ENV set), and its terminals run bash with the user's own
    ~/.bashrc and then the venv's activate script (a ~/.bashrc may put another
    python first: pyenv, conda), so that `python` typed in a terminal is the course's.
    """
    argv = [sys.executable, "-m", "jupyterlab", f"--ServerApp.root_dir={root_dir}", f"--LabApp.default_url={url}"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        argv.append("--allow-root")  # a container's or a class machine's root user
    if sys.prefix != sys.base_prefix:  # a venv
        scripts = pathlib.Path(sys.executable).parent
        os.environ.update(VIRTUAL_ENV=sys.prefix, PATH=os.pathsep.join([str(scripts), os.environ.get("PATH", "")]))
        if os.name == "posix":
            rc = pathlib.Path(sys.prefix) / "terminal.bashrc"
            rc.write_text(f'[ -f ~/.bashrc ] && . ~/.bashrc\n. "{scripts / "activate"}"\n')
            argv.append(f"--ServerApp.terminado_settings=shell_command=bash --rcfile '{rc}'")
    if os.name == "nt":  # Windows' execv starts a new process and ends this one: the console loses Ctrl-C
        try:
            sys.exit(subprocess.call(argv + jupyter_args))
        except KeyboardInterrupt:
            sys.exit(130)
    os.execv(sys.executable, argv + jupyter_args)


def has(*modules):
    return all(importlib.util.find_spec(name) is not None for name in modules)


def environment(folder=LEARNER_VENV, extra=""):
    """The python of environment ``folder``: the course (pip's editable install) with ``extra`` ("[teacher]",
    "[dev]"), made and filled first if need be: the first time, and again when pyproject.toml changes.
    `make lab`, `make teach` and `make test` all make theirs here, with only Python's own venv and pip."""
    python = folder / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    stamp = folder / ".installed"  # filled from pyproject.toml as it is now
    if stamp.exists() and stamp.stat().st_mtime >= (ROOT / "pyproject.toml").stat().st_mtime and python.exists():
        return python
    print(f"Setting up {folder.name}/ for echo-lab{extra}: JupyterLab, ipywidgets, matplotlib"
          f"{f', and the {extra} extra' if extra else ''}.\n"
          "The first time this takes about a minute (more on a slow network); later runs skip it.", flush=True)
    try:
        if not python.exists():  # venv's own messages, if it cannot (Debian: "apt install python3-venv")
            made = subprocess.run([sys.executable, "-m", "venv", str(folder)])
            if made.returncode != 0:
                shutil.rmtree(folder, ignore_errors=True)  # no half-made environment for the next run to trip on
                sys.exit(f"Making {folder.name}/ failed (exit {made.returncode}): see venv's message above.")
        # --no-compile: no bytecode for all of it ahead; Python compiles what is imported, when first imported
        # (the install a third quicker, and 80 MB less on disk).
        subprocess.run([str(python), "-m", "pip", "install", "--disable-pip-version-check", "--progress-bar", "off",
                        "--no-compile", "-e", f"{ROOT}{extra}"], check=True)
    except subprocess.CalledProcessError as error:
        sys.exit(f"Setting up {folder.name}/ failed (exit {error.returncode}): see pip's messages above.")
    stamp.touch()
    return python


INSIDE = "ECHO_LAB_ENVIRONMENT"  # set by run_in: the environment a script was run again in


def run_in(folder, extra, argv):
    """Run ``argv`` (a script and its arguments) with environment ``folder``'s python, as an activated
    environment runs it (its scripts first on PATH); return its exit status. Called again from within that
    environment (it lacks what the script needs: moved, or a package removed), it says so and marks the
    environment to be filled afresh by the next run, rather than run itself again without end."""
    if os.environ.get(INSIDE) == str(folder):
        (folder / ".installed").unlink(missing_ok=True)
        sys.exit(f"{folder.name}/ lacks part of the course (was it moved, or a package removed?): "
                 "run the same command again to set it up afresh.")
    python = environment(folder, extra)
    env = dict(os.environ, VIRTUAL_ENV=str(folder), **{INSIDE: str(folder)},
               PATH=os.pathsep.join([str(python.parent), os.environ.get("PATH", "")]))
    try:
        return subprocess.run([str(python), *argv], env=env).returncode
    except KeyboardInterrupt:  # Ctrl-C stops JupyterLab (it got the signal too); no traceback of ours
        return 130


def split_at_dashes(argv):
    """(the script's own arguments, those after ``--``: JupyterLab's)."""
    return (argv[:argv.index("--")], argv[argv.index("--") + 1:]) if "--" in argv else (argv, [])


def needs_python():
    if sys.version_info < (3, 11):  # noqa: UP036 (run by whatever python a user has)
        sys.exit(f"echo-lab needs Python 3.11 or newer; this is {sys.version.split()[0]}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", nargs="?", choices=["sync", "lab"], default="sync",
                        help="sync: make or update work/ (the default); lab: that, then open JupyterLab on it")
    parser.add_argument("--zh", action="store_true", help="the Chinese edition, in JupyterLab's Chinese interface")
    parser.epilog = "Options after -- go to `jupyter lab`."
    argv = sys.argv[1:] if argv is None else argv
    ours, jupyter_args = split_at_dashes(argv)
    args = parser.parse_args(ours)  # a wrong argument is told before anything is installed
    needs_python()
    if not has("jupyterlab", "echo_lab", "nbformat"):
        sys.exit(run_in(LEARNER_VENV, "", [__file__, *argv]))
    print(report(sync()), flush=True)
    if args.command == "lab":
        lab(args.zh, jupyter_args)


if __name__ == "__main__":
    main()
