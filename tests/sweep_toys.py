"""Toy trial functions for the sweep tests (module-level, so worker processes can import them)."""
from __future__ import annotations

import os
import time

import numpy as np

from benign.experiments import NotBatchable


def quad(params: dict, seed: int) -> dict:
    """``value = a ||x||^2`` for ``x ~ N(0, I_n)`` drawn from ``(seed, a, n)``; optional failure, delay and log."""
    if params.get("log"):
        with open(params["log"], "a") as fh:
            fh.write(f"{params['a']},{params['n']},{seed}\n")
    time.sleep(params.get("sleep", 0.0))
    stop = params.get("interrupt_file")
    if stop and os.path.exists(stop) and seed == 1 and params.get("a") == 2:  # as if Ctrl-C came during this trial
        raise KeyboardInterrupt
    fail = params.get("fail_file")
    if params.get("fail_seed") == seed and (fail is None or os.path.exists(fail)):
        raise RuntimeError(f"boom at seed {seed}")
    x = np.random.default_rng([seed, int(params["a"]), int(params["n"])]).standard_normal(int(params["n"]))
    return {"value": float(params["a"] * np.sum(x ** 2)), "first": float(x[0]), "positive": bool(x[0] > 0),
            "n_out": int(x.size)}


def quad_batch(params_list: list, seeds: list) -> list:
    """The batched twin of :func:`quad` (same numbers); refuses batches that contain a failing seed's marker."""
    if any(p.get("not_batchable") for p in params_list):
        raise NotBatchable("asked not to batch")
    return [quad(p, s) for p, s in zip(params_list, seeds)]


def quad_batch_broken(params_list: list, seeds: list) -> list:
    """A batched function that always fails (the runner must fall back, warn once, and lose nothing)."""
    raise RuntimeError("broken batched path")
