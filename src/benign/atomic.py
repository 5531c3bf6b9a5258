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
from typing import Iterator, TextIO

#: names written directly: devices and process files (replacing ``/dev/stdout`` would replace the link itself)
_DIRECT = ("/dev/", "/proc/")


def written_in_place(path: str) -> bool:
    """Whether ``path`` is written directly rather than through a temporary file: a name under ``/dev`` or ``/proc``
    (before or after resolving links), or an existing target that is not a regular file."""
    real = os.path.realpath(path)
    return (os.path.abspath(path).startswith(_DIRECT) or real.startswith(_DIRECT)
            or (os.path.exists(real) and not os.path.isfile(real)))


@contextmanager
def atomic_path(path: str) -> Iterator[str]:
    """Yield the name to write ``path`` under; on success it replaces ``path``, on any exception (Ctrl-C included) it
    is removed and ``path`` is left as it was. The folder is created when missing."""
    path = os.fspath(path)
    if written_in_place(path):
        yield path
        return
    real = os.path.realpath(path)
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


@contextmanager
def open_text(path: str) -> Iterator[TextIO]:
    """A text file to write ``path`` through: ``sys.stdout`` when ``path`` is standard output (see
    :func:`is_stdout`; flushed, not closed), else a file opened under :func:`atomic_path`."""
    if is_stdout(path):
        yield sys.stdout
        sys.stdout.flush()
        return
    with atomic_path(path) as tmp, open(tmp, "w") as fh:
        yield fh


def write_text(path: str, text: str) -> str:
    """``text`` written to ``path`` through :func:`open_text`; returns ``path``."""
    with open_text(path) as fh:
        fh.write(text)
    return path
