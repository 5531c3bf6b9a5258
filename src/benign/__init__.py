"""benign: a laboratory for the nonconvex landscape of low-rank matrix recovery.

Public API (imported lazily, so that ``import benign`` and the CLI start fast; JAX is configured for float64 the
first time any numerical module is imported)::

    inst = benign.build("sensing:n=20,r=2,m=200,seed=0")
    obj = benign.make_objective(inst, "mixed:lam=5,l=4")
    obj.value(X), obj.grad(X), obj.hvp(X, U), obj.hessian(X)
"""
from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.4.15"

# public name -> module that defines it
_EXPORTS: dict[str, str] = {
    # instances
    "Instance": "benign.instances", "build": "benign.instances", "sensing": "benign.instances",
    "completion": "benign.instances", "yalcin": "benign.instances", "zsl_half": "benign.instances",
    "from_arrays": "benign.instances", "relative_error": "benign.instances",
    "factored_distance": "benign.instances", "with_noise": "benign.instances",
    # operators
    "DenseSensing": "benign.operators", "EntrySampling": "benign.operators",
    "RankOneProjections": "benign.operators", "from_matrices": "benign.operators",
    "from_kernel": "benign.operators", "entry_sampling": "benign.operators", "kernel": "benign.operators",
    # losses and objective
    "Loss": "benign.losses", "make_loss": "benign.losses", "parse_loss": "benign.specs",
    "parse_instance": "benign.specs", "parse_point": "benign.specs",
    "Objective": "benign.objective", "make_objective": "benign.objective",
    # files
    "save_instance": "benign.io", "load_instance": "benign.io", "load_point": "benign.io",
    "save_point": "benign.io", "saved_objective": "benign.io",
    # solvers
    "solve": "benign.solvers", "solve_many": "benign.solvers", "Result": "benign.solvers",
    "METHODS": "benign.solvers", "initial_point": "benign.solvers",
    # certificates, theorem conditions, landscape views
    "certify": "benign.certify", "Certificate": "benign.certify", "global_certificate": "benign.certify.convex",
    "certify_l1": "benign.certify.l1", "l1_landscape_regime": "benign.certify.l1",
    "weighted_spurious_point": "benign.certify.published", "seed001_landscape": "benign.landscape",
    "slice_1d": "benign.landscape", "slice_2d": "benign.landscape",
    # RIP bounds and counterexample SDPs
    "full_rank_rip": "benign.rip", "full_rank_spectrum": "benign.rip", "rip_bounds": "benign.rip",
    "rip_search": "benign.rip", "counterexample": "benign.counterexamples",
    "nonneg_counterexample": "benign.counterexamples", "nonneg_rip_family": "benign.counterexamples",
    "CounterexampleResult": "benign.counterexamples",
    # sweeps
    "run_sweep": "benign.experiments", "sweep_status": "benign.experiments", "sweep_report": "benign.experiments",
    "load_results": "benign.experiments", "register_trial": "benign.experiments", "load_spec": "benign.experiments",
}


#: exports that are also a subpackage of the same name: the export is the package, which is callable (so that
#: ``benign.certify(...)`` and ``benign.certify.verdicts`` both work whichever was imported first)
_CALLABLE_PACKAGES = {"certify"}


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'benign' has no attribute {name!r}")
    package = importlib.import_module(module)
    value = package if name in _CALLABLE_PACKAGES else getattr(package, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(list(globals()) + list(_EXPORTS))


__all__ = sorted(_EXPORTS)
