"""The certifiers' own settings by kind, readable without importing them (no JAX): the CLI refuses a misspelt
``--opt`` of ``benign certify`` before any work. Kept equal to the keyword-only parameters of
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
