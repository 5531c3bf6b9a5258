"""``benign instance`` and ``benign info``."""
from __future__ import annotations

from typing import Optional

import typer

from benign.cli._common import Command, JSON_OPT, UserError, app, emit, load_instance_arg, npz_output_path


@app.command(cls=Command)
def instance(
    spec: str = typer.Argument(..., help="Instance spec, e.g. sensing:n=20,r=2,m=200,seed=0 (see docs)."),
    save: Optional[str] = typer.Option(None, "--save", help="Write the instance to this .npz file."),
    as_json: bool = JSON_OPT,
) -> None:
    """Create an instance from a spec string and (optionally) save it."""
    save = npz_output_path(save, "--save")
    inst = load_instance_arg(spec)
    info = inst.describe()
    if save:
        from benign.io import save_instance

        info["saved"] = save_instance(save, inst)
    emit(info, as_json)


@app.command(cls=Command)
def info(
    file: str = typer.Argument(..., help="An instance file (.npz) or spec string."),
    as_json: bool = JSON_OPT,
) -> None:
    """Describe an instance: sizes, operator kind, noise and RIP information."""
    inst = load_instance_arg(file)
    out = inst.describe()
    out["rip"] = _rip_summary(inst)
    emit(out, as_json)


#: ``benign info`` computes the exact full-rank RIP constant when forming its eigenproblem costs at most this many
#: flops (``benign.rip.full_rank_spectrum``'s ``max_flops``: about a second); entry sampling is a closed form at any
#: size
INFO_RIP_FLOPS = 4e9


def _rip_summary(inst) -> dict:
    """Exact full-rank RIP constants (:func:`benign.rip.full_rank_spectrum`) when they are cheap to compute; else
    the reason why not."""
    from benign.rip import full_rank_spectrum

    out = full_rank_spectrum(inst.operator, symmetric=inst.symmetric, max_flops=INFO_RIP_FLOPS)
    if not out["available"]:
        out["reason"] += ": use `benign rip` for it and for rank-k bounds"
        return out
    if out["lambda_min"] <= 1e-10 * max(out["lambda_max"], 1e-300):
        d1, d2 = inst.shape
        dim = d1 * (d1 + 1) // 2 if inst.symmetric else d1 * d2
        out["note"] = (f"lambda_min = 0 (to 1e-10 relative): A vanishes on some {out['space']} matrices "
                       f"(m = {inst.operator.m} measurements, dimension {dim}), so every full-rank constant is >= 1; "
                       f"the theorems use the rank-k constant: `benign rip SPEC --rank {2 * inst.rank}` bounds it")
    return out
