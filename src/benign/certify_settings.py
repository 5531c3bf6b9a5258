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


#: the settings :func:`benign.certify.certify` takes itself, for every kind
COMMON_SETTINGS = ("gtol", "htol", "method", "verify")


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
