"""Trial kinds: ``fn(params: dict, seed: int) -> dict`` of numbers, looked up by name.

A trial kind is registered with :func:`register_trial` (the built-in ``solve`` kind is registered here) or named
directly in a spec as ``"package.module:function"``. Functions are sent to worker processes *by reference*
(``"module:qualname"``) when they are module-level functions of an importable module, so every worker imports
the same code; anything else (a lambda, a closure, a function of ``__main__``) runs in-process, or is shipped by
value (cloudpickle) to a Dask cluster.

A kind may also have a *batched* function ``batch_fn(params_list: list[dict], seeds: list[int]) -> list[dict]``
computing several trials of one grid point at once (the runner uses it when the spec allows batching); it must
return exactly what the one-by-one function would, in the same order, or raise :class:`NotBatchable` to make the
runner fall back to one by one.

Outputs are flat dicts of numbers, strings, booleans or ``None`` (lists of numbers are kept, e.g. histories).
NumPy/JAX scalars are converted to Python numbers; non-finite floats are kept as floats.
"""
from __future__ import annotations

import importlib
import math
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from benign.errors import check_bool, suggest


class NotBatchable(Exception):
    """Raised by a batched trial function when a group of trials cannot be batched (the runner falls back)."""


@dataclass(frozen=True)
class TrialKind:
    """A registered trial kind. ``params``: accepted ``[trial]`` keys (``None`` = anything); ``outputs``: the keys
    the function returns (``None`` = unknown), used to check metric expressions before running; ``requires``: outputs
    recorded only when a ``[trial]`` parameter is set (output -> parameter), so that a metric or report reading one
    without it is refused at load; ``threadsafe``: the
    functions may run in several threads of one process at once (then an in-process sweep overlaps its units): a
    bool, or ``threadsafe(params) -> bool`` deciding per trial."""

    name: str
    fn: Callable[[dict, int], dict]
    batch: Callable[[list, list], list] | None = None
    params: tuple | None = None
    required: tuple = ()
    outputs: tuple | None = None
    validate: Callable[[dict], None] | None = None
    threadsafe: bool | Callable[[dict], bool] = False
    requires: dict = field(default_factory=dict)

    def threadsafe_for(self, params: dict) -> bool:
        """Whether the trial with these parameters may run beside others in one process."""
        return bool(self.threadsafe(params)) if callable(self.threadsafe) else bool(self.threadsafe)

    @property
    def ref(self) -> str | None:
        return callable_ref(self.fn)

    @property
    def batch_ref(self) -> str | None:
        return callable_ref(self.batch) if self.batch is not None else None


_REGISTRY: dict[str, TrialKind] = {}


def register_trial(name: str, fn: Callable[[dict, int], dict], *, batch: Callable | None = None,
                   params: tuple | list | None = None, required: tuple | list = (),
                   outputs: tuple | list | None = None, validate: Callable[[dict], None] | None = None,
                   threadsafe: bool | Callable[[dict], bool] = False, replace: bool = False,
                   requires: dict[str, str] | None = None) -> TrialKind:
    """Register ``fn(params, seed) -> dict`` as trial kind ``name`` (see the module docstring).

    ``validate(params)`` is called on every trial's resolved parameters when a spec is loaded and should raise
    ``ValueError``/``TypeError`` naming the problem; a ``validate.finish(run=True)`` attribute, when present, is
    called once after every trial passed (checks that need a slow import, so that a fast error is found first), or
    with ``run=False`` when one failed (to drop what it deferred). ``threadsafe=True`` declares that ``fn`` and
    ``batch`` may run in several threads at once (no shared mutable state): an in-process sweep then runs several
    units at a time (see :func:`benign.experiments.run_sweep`); a callable ``threadsafe(params) -> bool`` decides per
    trial (a sweep runs on threads when every trial qualifies); the default runs units one after the other.
    Re-registering a name needs ``replace=True``. ``requires`` maps outputs that ``fn`` records only when a parameter
    is set to that parameter (e.g. ``{"verdict": "certify"}``).
    """
    if not isinstance(name, str) or not name or ":" in name:
        raise ValueError(f"a trial kind name must be a non-empty string without ':', got {name!r}")
    if not callable(fn):
        raise TypeError(f"trial function for {name!r} must be callable, got {type(fn).__name__}")
    if batch is not None and not callable(batch):
        raise TypeError(f"batched trial function for {name!r} must be callable, got {type(batch).__name__}")
    if name in _REGISTRY and not replace and _REGISTRY[name].fn is not fn:
        raise ValueError(f"trial kind {name!r} is already registered (pass replace=True to override)")
    kind = TrialKind(name, fn, batch, tuple(params) if params is not None else None, tuple(required),
                     tuple(outputs) if outputs is not None else None, validate,
                     threadsafe if callable(threadsafe) else check_bool("threadsafe", threadsafe),
                     dict(requires or {}))
    _REGISTRY[name] = kind
    return kind


def trial_kinds() -> list[str]:
    """Names of the registered trial kinds."""
    return sorted(_REGISTRY)


def get_trial(name: str) -> TrialKind:
    """A registered kind by name, or a ``"module:function"`` reference imported now."""
    if not isinstance(name, str):
        raise TypeError(f"a trial kind must be a string, got {type(name).__name__}")
    if name in _REGISTRY:
        return _REGISTRY[name]
    if ":" in name:
        fn = import_callable(name)
        return TrialKind(name, fn)
    raise ValueError(f"unknown trial kind {name!r}{suggest(name, _REGISTRY)}; registered: "
                     f"{', '.join(trial_kinds())}; or name a function as 'package.module:function'")


def callable_ref(fn: Callable) -> str | None:
    """``"module:qualname"`` when ``fn`` can be re-imported under that name in another process, else ``None``."""
    mod = getattr(fn, "__module__", None)
    qual = getattr(fn, "__qualname__", None)
    if not mod or not qual or mod == "__main__" or "<" in qual:
        return None
    try:
        return f"{mod}:{qual}" if import_callable(f"{mod}:{qual}") is fn else None
    except (ValueError, TypeError):
        return None


def import_callable(ref: str) -> Callable:
    """Import ``"package.module:function"`` (``function`` may be dotted: ``Class.method``)."""
    mod_name, _, qual = ref.partition(":")
    if not mod_name or not qual:
        raise ValueError(f"a function reference must look like 'package.module:function', got {ref!r}")
    try:
        obj: Any = importlib.import_module(mod_name)
    except ImportError as exc:
        hint = ""
        if isinstance(exc, ModuleNotFoundError) and exc.name == mod_name.split(".")[0]:
            hint = ("; the module must be importable where the sweep runs: install it, or put its folder on "
                    "PYTHONPATH (e.g. PYTHONPATH=. benign sweep run SPEC)")
        raise ValueError(f"cannot import module {mod_name!r} for trial {ref!r}: {exc}{hint}") from None
    for part in qual.split("."):
        if not hasattr(obj, part):
            raise ValueError(f"module {mod_name!r} has no attribute {qual!r} (trial {ref!r})")
        obj = getattr(obj, part)
    if not callable(obj):
        raise TypeError(f"trial {ref!r} is not callable")
    return obj


def normalize_output(out: Any) -> dict[str, Any]:
    """Check and convert a trial's return value to a flat dict of plain Python values."""
    if not isinstance(out, Mapping):
        raise TypeError(f"a trial function must return a dict of numbers, got {type(out).__name__}")
    return {str(k): _plain(str(k), v) for k, v in out.items()}


def _plain(key: str, v: Any) -> Any:
    if v is None or isinstance(v, (bool, str)):
        return v
    if isinstance(v, int):
        return int(v)
    if isinstance(v, float):
        return float(v)
    if hasattr(v, "dtype") and hasattr(v, "tolist"):  # NumPy / JAX scalar or array
        v = v.tolist()
        return _plain(key, v)
    if isinstance(v, (list, tuple)):
        return [_plain(key, x) for x in v]
    if isinstance(v, complex):
        raise TypeError(f"trial output {key!r} is complex ({v!r}); return real numbers")
    try:
        f = float(v)
    except (TypeError, ValueError):
        raise TypeError(f"trial output {key!r} must be a number, string, boolean or None, got "
                        f"{type(v).__name__}") from None
    return f if not math.isnan(f) else float("nan")


# the built-in kinds are defined in their own module and registered on import
from benign.experiments import solve_trial as _solve_trial  # noqa: E402,F401
