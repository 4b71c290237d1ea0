"""Compiling the C load client, ``echo_lab/bench/loadgen.c``, once: cached under a hash of what built it."""

import hashlib
import os
import pathlib
import shutil
import subprocess

__all__ = ["CFLAGS", "HERE", "CompileError", "c_compiler", "loadgen_path"]

HERE = pathlib.Path(__file__).resolve().parent  # echo_lab/bench/, where loadgen.c is
CFLAGS = ["-O2"]


class CompileError(RuntimeError):
    """There is a C compiler, but it could not build loadgen.c; the message has its own words."""


def c_compiler():
    """The system's C compiler (``cc``, else ``gcc``), or None."""
    return shutil.which("cc") or shutil.which("gcc")


def _compiler_version(cc):
    try:
        return subprocess.run([cc, "--version"], capture_output=True, timeout=60).stdout
    except (OSError, subprocess.SubprocessError):
        return b""


def loadgen_path():
    """Compile loadgen.c once (into a cache folder) and return the program's path.

    None if there is no C compiler.  If there is one and it fails (no epoll
    on macOS, say), raises :class:`CompileError` with the compiler's message.
    The cached program is named by a hash of the source, the flags and the
    compiler, so a changed source or compiler is rebuilt whatever the files' times.
    """
    cc = c_compiler()
    if cc is None:
        return None
    source = HERE / "loadgen.c"
    key = hashlib.sha256()
    for part in (source.read_bytes(), " ".join(CFLAGS).encode(), os.path.realpath(cc).encode(),
                 _compiler_version(cc)):
        key.update(hashlib.sha256(part).digest())
    cache = pathlib.Path(os.environ.get("XDG_CACHE_HOME", pathlib.Path.home() / ".cache")) / "echo_lab"
    binary = cache / f"loadgen-{key.hexdigest()[:16]}"
    if not binary.exists():
        cache.mkdir(parents=True, exist_ok=True)
        tmp = cache / f"{binary.name}.{os.getpid()}"  # then renamed: a half-written binary never runs
        try:
            built = subprocess.run([cc, *CFLAGS, "-o", str(tmp), str(source)], capture_output=True,
                                   text=True, timeout=120)
        except (OSError, subprocess.SubprocessError) as exc:
            raise CompileError(f"{cc} could not compile {source}: {exc}") from None
        if built.returncode != 0:
            tmp.unlink(missing_ok=True)
            said = (built.stderr or built.stdout).strip() or f"exit status {built.returncode}"
            raise CompileError(f"{cc} could not compile {source}:\n{said}")
        tmp.replace(binary)
    return str(binary)
