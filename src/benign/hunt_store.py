"""The hunter's checkpoint: one JSON file per finished instance, so that a long hunt resumes after a crash.

A checkpoint folder holds ``hunt.json`` (the settings of the hunt: loss, rank, starts, method, initialisation,
seed, de-duplication tolerance, solver and certifier options, sign constraint, benign's version) and
``instance_00000.json``, ... (the catalogue entries of one instance, with their certificates and points, that
instance's solver status counts and a fingerprint of the instance: its name and a SHA-256 of ``b`` and the truth
factors). Files are written atomically (a temporary file, then a rename) as each instance finishes. A hunt started
on a folder with other settings, another benign version or another instance at the same index is refused
(nothing there is overwritten); the same hunt loads the finished instances instead of recomputing them.
"""
from __future__ import annotations

import hashlib
import json
import os
from typing import Any

import numpy as np

from benign.atomic import write_text
from benign.serialize import to_jsonable

SETTINGS_FILE = "hunt.json"
FORMAT = "benign-hunt-checkpoint"
_NONFINITE = {"nan": float("nan"), "inf": float("inf"), "-inf": float("-inf")}


def instance_fingerprint(inst) -> dict[str, str]:
    """The instance's name and a SHA-256 of its measurements and truth factors."""
    h = hashlib.sha256()
    for arr in (inst.b, inst.truth_left, inst.truth_right):
        if arr is not None:
            h.update(np.ascontiguousarray(np.asarray(arr, dtype=np.float64)).tobytes())
    return {"name": inst.name, "sha256": h.hexdigest()}


def _read(path: str) -> Any:
    """A checkpoint file's JSON; a damaged one is a ``ValueError`` naming the file (files are written whole, so
    damage comes from outside)."""
    try:
        with open(path) as fh:
            return json.load(fh)
    except (OSError, ValueError) as exc:
        raise ValueError(f"cannot read the hunt checkpoint file {path}: {exc}") from None


def _write(path: str, data: dict) -> None:
    write_text(path, json.dumps(to_jsonable(data)))


def _floats(v: Any) -> Any:
    """Undo :func:`~benign.serialize.to_jsonable`'s strings for non-finite floats."""
    if isinstance(v, dict):
        return {k: _floats(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_floats(x) for x in v]
    return _NONFINITE.get(v, v) if isinstance(v, str) else v


def hunt_settings(*, loss: str, rank: int, starts: int, method: str | None, init: str, init_scale: float | None,
                  seed: int, dedupe_rtol: float, solver_options: dict | None, certify_options: dict | None,
                  nonnegative: bool | None) -> dict[str, Any]:
    """What ``hunt.json`` records of a hunt (``loss``: its spec string), with the format and benign's version: the
    hunter and the command line (before anything is built) compare the same dictionary."""
    from benign import __version__

    return {"format": FORMAT, "version": __version__, **to_jsonable({
        "loss": loss, "rank": rank, "starts": starts, "method": method, "init": init, "init_scale": init_scale,
        "seed": seed, "dedupe_rtol": dedupe_rtol, "solver_options": solver_options or {},
        "certify_options": certify_options or {}, "nonnegative": nonnegative})}


def check_checkpoint(folder: str, settings: dict[str, Any]) -> bool:
    """Whether ``folder`` already holds a hunt with these :func:`hunt_settings` (``False``: no hunt there yet); a
    hunt with other settings is a ``ValueError`` naming the first three that differ. Reads only."""
    if os.path.exists(folder) and not os.path.isdir(folder):
        raise ValueError(f"{folder} exists and is not a folder (the hunt keeps its catalogue there): move it away or "
                         f"use another folder")
    path = os.path.join(folder, SETTINGS_FILE)
    if not os.path.exists(path):
        return False
    stored = _read(path)
    if stored != settings:
        stored = stored if isinstance(stored, dict) else {}
        diff = sorted(k for k in set(stored) | set(settings) if stored.get(k) != settings.get(k))
        raise ValueError(f"{folder} holds a hunt with other settings ({', '.join(diff)} differ: "
                         + "; ".join(f"{k} {stored.get(k)!r} there, {settings.get(k)!r} now" for k in diff[:3])
                         + "); use another folder to keep both")
    return True


class HuntCheckpoint:
    """The checkpoint folder of one hunt (see the module docstring); ``settings`` from :func:`hunt_settings`."""

    def __init__(self, folder: str, settings: dict[str, Any]):
        self.folder = folder
        self.settings = settings
        os.makedirs(folder, exist_ok=True)
        if not check_checkpoint(folder, settings):
            _write(os.path.join(folder, SETTINGS_FILE), settings)

    def _path(self, index: int) -> str:
        return os.path.join(self.folder, f"instance_{index:05d}.json")

    def load(self, index: int, inst) -> tuple[list[dict], dict[str, int]] | None:
        """``(entries as dicts, solver status counts)`` of a finished instance, or ``None`` when not finished."""
        path = self._path(index)
        if not os.path.exists(path):
            return None
        data = _floats(_read(path))
        if not isinstance(data, dict) or not {"entries", "solver_status"} <= set(data):
            raise ValueError(f"{path} is not a finished instance of a hunt checkpoint (remove it to re-run that "
                             f"instance)")
        if data.get("instance") != instance_fingerprint(inst):
            raise ValueError(f"{path} was written for another instance ({data.get('instance', {}).get('name')!r}, "
                             f"now {inst.name!r}); use another folder")
        return data["entries"], data["solver_status"]

    def save(self, index: int, inst, entries: list, statuses: dict[str, int]) -> None:
        _write(self._path(index), {"instance": instance_fingerprint(inst), "solver_status": statuses,
                                   "entries": [e.to_dict() for e in entries]})
