"""The certifiers' own settings by kind, readable without importing them (no JAX): the CLI refuses a misspelt
``--opt`` of ``benign certify`` (and a sweep spec a misspelt ``certify_options`` key) before any work. Kept equal to
the keyword-only parameters of
:func:`benign.certify.smooth.certify_smooth`, :func:`benign.certify.nonneg.certify_nonneg` and
:func:`benign.certify.l1.certify_l1` (minus the settings :func:`benign.certify.certify` takes itself; tested).
"""
from __future__ import annotations

CERTIFIER_SETTINGS: dict[str, tuple[str, ...]] = {
    "smooth": ("ftol", "ctol", "rank_rtol", "seed"),
    "nonnegative": ("ftol", "ctol", "xtol", "max_enum", "rank_rtol", "seed"),
    "l1": ("tol", "gamma_min", "searches", "iters", "sdp", "seed", "res_tol", "rank_rtol"),
}


def check_certify_setting_names(names, kind: str | None = None) -> None:
    """``ValueError`` naming the first of ``names`` that no certifier takes (``kind``: that certifier only)."""
    from benign.errors import suggest

    kinds = [kind] if kind is not None else list(CERTIFIER_SETTINGS)
    known = sorted({n for k in kinds for n in CERTIFIER_SETTINGS[k]})
    for name in names:
        if name not in known:
            which = f"the {kind} certificate" if kind else "any certificate"
            raise ValueError(f"unknown setting {name!r} for {which}{suggest(name, known)}; settings: "
                             + "; ".join(f"{k}: {', '.join(CERTIFIER_SETTINGS[k])}" for k in kinds))


#: the settings :func:`benign.certify.certify` takes itself, for every kind, with their defaults (tested against
#: its signature)
COMMON_DEFAULTS = {"gtol": 1e-6, "htol": 1e-6, "method": "auto", "verify": True}
COMMON_SETTINGS = tuple(COMMON_DEFAULTS)


def check_l1_common(settings: dict, labels: dict | None = None) -> None:
    """The l1 certifier has no use for :data:`COMMON_SETTINGS` (its tolerance is ``tol``, and it verifies every
    descent claim by evaluating ``f``): one given away from its default is refused, not silently dropped
    (``ValueError`` naming it as ``labels[name]``, default ``name``; a command-line label, ``--...``, is written as
    the option is given: ``--gtol 0.0001``, or the flag alone for a switch)."""
    labels = labels or {}

    def given(k, v):
        label = labels.get(k, k)
        if not label.startswith("--"):
            return f"{label}={v!r}"
        return label if isinstance(v, bool) else f"{label} {v}"

    changed = [given(k, v) for k, v in settings.items() if k in COMMON_DEFAULTS and v != COMMON_DEFAULTS[k]]
    if changed:
        raise ValueError(f"the l1 certifier does not take {', '.join(changed)}: its tolerance is the setting tol "
                         f"(relative, default 1e-8), and it verifies every descent claim by evaluating f")


#: the loosest verdict tolerance accepted: a point whose relative gradient, curvature, value gap or nonnegativity
#: violation is 1% of its scale is visibly not what a verdict would call it (with ``gtol = 0.5`` a point far from
#: critical was called a strict local minimum; with ``ctol = 0.99`` a saddle passed the convex certificate)
TOLERANCE_MAX = 1e-2

#: what each numeric or boolean setting must be (the certifiers check their arguments with
#: :func:`check_certify_setting`): verdict tolerances in ``(0, TOLERANCE_MAX]``; other relative thresholds in
#: ``(0, 1)`` (``rank_rtol`` the singular-value threshold of the rank, ``gamma_min`` the smallest relative step of
#: the l1 descent checks); counts; ``res_tol`` an absolute residual threshold (``None``: relative default)
SETTING_RULES: dict[str, tuple] = {
    **{name: ("tolerance", 0.0, TOLERANCE_MAX) for name in ("gtol", "htol", "ftol", "ctol", "xtol", "tol")},
    **{name: ("float", 0.0, 1.0) for name in ("rank_rtol", "gamma_min")},
    "res_tol": ("float>=", 0.0, None),
    "max_enum": ("int", 0, None),
    "searches": ("int", 0, None),
    "iters": ("int", 1, None),
    "sdp": ("bool",),
    "verify": ("bool",),
    "seed": ("seed",),
}


def check_certify_setting(name: str, value, label: str | None = None):
    """``value`` of the certifier setting ``name``, checked by :data:`SETTING_RULES` (``ValueError``/``TypeError``
    naming it as ``label``, default ``name``); ``ctol`` and ``res_tol`` may be ``None`` (their defaults are
    computed). ``method`` (checked by :func:`benign.certify.spectral.check_method`) is the one setting without a
    rule; any other name without one is a ``KeyError`` (a new setting needs its rule)."""
    from benign.errors import check_float, check_int, check_seed

    if name == "method":
        return value
    rule = SETTING_RULES[name]
    label = label or name
    if value is None and name in ("ctol", "res_tol"):
        return value
    kind = rule[0]
    if kind == "tolerance":
        return check_float(label, value, lo=rule[1], lo_open=True, hi=rule[2])
    if kind == "float":
        return check_float(label, value, lo=rule[1], lo_open=True, hi=rule[2], hi_open=True)
    if kind == "float>=":
        return check_float(label, value, lo=rule[1])
    if kind == "int":
        return check_int(label, value, minimum=rule[1])
    if kind == "bool":
        if not isinstance(value, bool):
            raise TypeError(f"{label} must be a bool, got {value!r}")
        return value
    return check_seed(value, label)


def certifier_kind(loss_name: str, instance: str, factorization: str | None = None,
                   nonnegative: bool | None = None) -> str | None:
    """The certifier :func:`benign.certify.certify` will use (a :data:`CERTIFIER_SETTINGS` kind), when the loss, the
    constraint or the instance spec says it without building the instance: ``"l1"`` for the l1 loss, else
    ``"nonnegative"`` for ``nonnegative=True`` or a generated ``truth=nonneg`` instance under the symmetric
    factorisation (the objective's default constraint there), else ``"smooth"``; ``None`` for a saved instance
    file without ``nonnegative`` (its truth decides)."""
    if loss_name == "l1":
        return "l1"
    if nonnegative is None:
        from benign.specs import objective_nonnegative, parse_instance

        nonnegative = objective_nonnegative(parse_instance(instance), factorization)
        if nonnegative is None:
            return None
    return "nonnegative" if nonnegative else "smooth"
