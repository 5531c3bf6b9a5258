"""Files written whole or not at all: an interrupted write never leaves a truncated file, nor destroys the file that
was there.

:func:`atomic_path` hands the writer a temporary name in the target's folder (same extension, so NumPy and
matplotlib pick the same format) and moves it onto the target with ``os.replace`` once the writer returns: a reader
sees the old file or the new one. A symbolic link is written through (its target is replaced, the link kept), and
the old file's permission bits are kept. A name under ``/dev`` or ``/proc`` (``/dev/stdout``, even when standard
output is redirected to a file) or a target that is not a regular file (a pipe) is written directly.
"""
from __future__ import annotations

import os
import shutil
import sys
import uuid
from contextlib import contextmanager
from typing import Iterator

#: names written directly: devices and process files (replacing ``/dev/stdout`` would replace the link itself)
_DIRECT = ("/dev/", "/proc/")


@contextmanager
def atomic_path(path: str) -> Iterator[str]:
    """Yield the name to write ``path`` under; on success it replaces ``path``, on any exception (Ctrl-C included) it
    is removed and ``path`` is left as it was. The folder is created when missing."""
    path = os.fspath(path)
    real = os.path.realpath(path)
    if os.path.abspath(path).startswith(_DIRECT) or real.startswith(_DIRECT) or (
            os.path.exists(real) and not os.path.isfile(real)):
        yield path
        return
    folder, base = os.path.split(real)
    os.makedirs(folder, exist_ok=True)
    root, ext = os.path.splitext(base)
    tmp = os.path.join(folder, f".{root}.{uuid.uuid4().hex[:12]}.partial{ext}")
    try:
        yield tmp
        if os.path.exists(real):
            shutil.copymode(real, tmp)
        os.replace(tmp, real)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def is_stdout(path: str) -> bool:
    """Whether ``path`` names this process's standard output (``/dev/stdout``, ``/dev/fd/1``, or the file stdout is
    redirected to): such output goes through ``sys.stdout`` (opening the name again would start a second write
    position at 0, and one write would overwrite the other)."""
    try:
        return os.path.samestat(os.stat(path), os.fstat(sys.stdout.fileno()))
    except (OSError, ValueError, AttributeError):  # no such file, or no real stdout (a test's capture)
        return False


def write_text(path: str, text: str) -> str:
    """``text`` written to ``path`` through :func:`atomic_path` (to ``sys.stdout`` when ``path`` is standard output,
    see :func:`is_stdout`); returns ``path``."""
    if is_stdout(path):
        sys.stdout.write(text)
        sys.stdout.flush()
        return path
    with atomic_path(path) as tmp:
        with open(tmp, "w") as fh:
            fh.write(text)
    return path
