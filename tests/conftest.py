"""Shared fixtures: small random instances of every operator and factorisation."""
from __future__ import annotations

import dataclasses
import numpy as np
import pytest

import benign  # noqa: F401
from benign import instances as I
from benign import operators as ops
from benign._jax import jax

#: XLA on the CPU is deterministic and a batched (stacked) program reduces in the same order as the single one, so
#: the tests that compare two routes to the same numbers ask for equality there. On an accelerator, reductions are
#: ordered differently from one program to another and scatter-adds (completion) use atomics, so two routes agree
#: to rounding only, amplified along an iteration: there they compare within ACCELERATOR_RTOL (relative) and
#: ACCELERATOR_ATOL (absolute, for values that converge to 0).
ON_CPU = jax.default_backend() == "cpu"
ACCELERATOR_RTOL, ACCELERATOR_ATOL = 1e-9, 1e-12


def assert_same_numbers(actual, desired, path: str = "value", *, rtol: float | None = None) -> None:
    """Equal (NaN equals NaN) on the CPU; within the accelerator tolerances elsewhere (``rtol`` overrides
    ``ACCELERATOR_RTOL``). Recurses into dicts, lists, tuples (of the same type) and dataclasses; leaves must have the
    same kind (float, integer or bool; or both strings / None), and only floats are compared with a tolerance."""
    if dataclasses.is_dataclass(desired):
        assert type(actual) is type(desired), f"{path}: {type(actual)} != {type(desired)}"
        actual, desired = vars(actual), vars(desired)
    if isinstance(desired, dict):
        assert isinstance(actual, dict) and actual.keys() == desired.keys(), f"{path}: keys differ"
        for k in desired:
            assert_same_numbers(actual[k], desired[k], f"{path}[{k!r}]", rtol=rtol)
        return
    if isinstance(desired, (list, tuple)):
        assert type(actual) is type(desired) and len(actual) == len(desired), f"{path}: {actual!r} != {desired!r}"
        for i, (a, d) in enumerate(zip(actual, desired)):
            assert_same_numbers(a, d, f"{path}[{i}]", rtol=rtol)
        return
    if isinstance(desired, (str, type(None))) or isinstance(actual, (str, type(None))):
        assert actual == desired, f"{path}: {actual!r} != {desired!r}"
        return
    a, d = np.asarray(actual), np.asarray(desired)
    kind = lambda x: {"u": "i"}.get(x.dtype.kind, x.dtype.kind)  # noqa: E731
    assert kind(a) == kind(d) and kind(d) in "fib" and a.shape == d.shape, f"{path}: {actual!r} != {desired!r}"
    if ON_CPU or kind(d) != "f":
        assert np.array_equal(a, d, equal_nan=kind(d) == "f"), f"{path}: {a} != {d}"
    else:
        np.testing.assert_allclose(a, d, rtol=ACCELERATOR_RTOL if rtol is None else rtol, atol=ACCELERATOR_ATOL,
                                   equal_nan=True, err_msg=path)


def rel(a, b) -> float:
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-300))


def all_operators(seed: int = 0, n: int = 4, d2: int = 3, m: int = 11):
    """(name, operator, symmetric_problem) for every operator kind, small sizes."""
    rng = np.random.default_rng(seed)
    H = rng.standard_normal((n * n, n * n))
    out = [
        ("gaussian-sym", ops.gaussian_sensing(rng, m, n, n, True), True),
        ("gaussian-asym", ops.gaussian_sensing(rng, m, n, d2, False), False),
        ("explicit", ops.from_matrices(rng.standard_normal((m, n, n))), True),
        ("kernel", ops.from_kernel(H @ H.T), True),
        ("completion-sym", ops.entry_sampling(*ops.sample_entries(rng, n, n, count=m), (n, n),
                                              weights=rng.uniform(0.5, 1.5, m)), True),
        ("completion-asym", ops.entry_sampling(*ops.sample_entries(rng, n, d2, count=m), (n, d2)), False),
        ("rankone-sym", ops.rank_one_projections(rng, m, n, n, True), True),
        ("rankone-asym", ops.rank_one_projections(rng, m, n, d2, False), False),
    ]
    return out


@pytest.fixture(scope="session")
def operator_cases():
    return all_operators()


def instance_for(op, symmetric: bool, r: int = 2, seed: int = 0, noise: float = 0.3):
    rng = np.random.default_rng(seed + 100)
    d1, d2 = op.shape
    L = rng.standard_normal((d1, r))
    R = None if symmetric else rng.standard_normal((d2, r))
    return I.from_arrays(op, L, R, noise=noise * rng.standard_normal(op.m))


@pytest.fixture
def cli(capsys, monkeypatch):
    """``cli(*args, env={...})``: the CLI in this process (:func:`run_inprocess`), answered as a
    ``subprocess.CompletedProcess`` (``returncode``, ``stdout``, ``stderr``) like a run of ``benign`` in a child
    process, without the child's JAX import and compilations. ``env`` sets environment variables for the call.
    Output written below Python (file descriptor 1 or 2) is not seen: tests of that keep a real child process."""
    import subprocess

    def call(*args, env=None):
        with monkeypatch.context() as m:
            for key, value in (env or {}).items():
                m.setenv(key, value)
            code, out, err = run_inprocess(capsys, m, *args)
        return subprocess.CompletedProcess(["benign", *args], code, out, err)
    return call


def fresh_cli(*argv: str, timeout: float = 60) -> tuple[list[str], str]:
    """``benign ARGV`` in a fresh Python process: ``(stdout's words, stderr)``. The process prints its exit status
    and whether JAX was imported after the command's own output, so a refusal before JAX loads (and with nothing on
    stdout) gives ``["2", "False"]``."""
    import subprocess
    import sys

    code = ("import sys; sys.argv = ['benign'] + " + repr(list(argv)) + "\nfrom benign.cli import main\n"
            "try:\n    main()\nexcept SystemExit as e:\n    print(e.code, 'jax' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout)
    return out.stdout.split(), out.stderr


def run_inprocess(capsys, monkeypatch, *args):
    """The real CLI entry point in this process (it shares the compilation cache, no JAX import per call):
    ``(exit code, stdout, stderr)``."""
    import sys

    import benign.cli
    from benign.cli import main

    monkeypatch.setattr(sys, "argv", ["benign"] + list(args))
    monkeypatch.setattr(benign.cli, "_leave_now", sys.exit)  # Ctrl-C's hard exit would end the test run
    code = 0
    try:
        main()
    except SystemExit as exc:
        code = exc.code or 0
    out = capsys.readouterr()
    return code, out.out, out.err
