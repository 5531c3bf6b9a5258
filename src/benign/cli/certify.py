"""``benign certify`` (what a point is) and ``benign landscape`` (slices and maps of the landscape)."""
from __future__ import annotations

import json
import math
import os
import sys
from typing import List, Optional

import typer

from benign.cli._common import (Command, JSON_OPT, UserError, app, check_point_rows, emit,
                                factorization_before_build, load_instance_arg,
                                load_loss_arg, load_point_arg, output_path, parse_options, refuse_special_file,
                                refuse_stdout_with_json, status_spinner, stdout_console, suffixed_output_path,
                                to_jsonable)
from benign.certify_settings import check_certify_setting, check_certify_setting_names, check_l1_common
from benign.errors import check_float, check_nonnegative_point, check_rank_fits, suggest

CERT_POINT_OPT = typer.Option(None, "--point", help="Point: a file (.npz/.npy/.csv), inline '1,0,1' / '1,0;0,1', "
                                                    "'truth' or 'truth:r=K' (the truth padded to rank K).")
METHOD_OPT = typer.Option("auto", "--method", help="Hessian spectrum: auto (dense when N*r <= 600, <= 1500 for "
                                                    "symmetric dense sensing whose Jacobian fits), dense, lanczos.")
OPT_OPT = typer.Option(None, "--opt", help="Extra certifier option key=value, repeatable: ftol, ctol, rank_rtol, "
                                           "seed; also xtol, max_enum for X >= 0; l1: tol, gamma_min, searches, "
                                           "iters, sdp, res_tol.")


#: the extensions matplotlib's ``savefig`` writes with its default backend
#: matplotlib's formats that need nothing beyond matplotlib (its pgf backend needs a LaTeX installation)
FIGURE_FORMATS = ("png", "pdf", "svg", "svgz", "eps", "ps", "jpg", "jpeg", "tif", "tiff", "webp", "raw", "rgba")


def _truth_request(text: Optional[str]) -> tuple[bool, Optional[int]]:
    """``(True, K or None)`` when ``--point`` is exactly ``truth`` or ``truth:r=K`` (an integer ``K >= 1``);
    ``(False, None)`` for anything else, a file or inline numbers (``truth_guess.npy`` is a file name)."""
    word = (text or "").strip()
    if word == "truth":
        return True, None
    if not word.startswith("truth:"):
        return False, None
    key, _, val = word[len("truth:"):].partition("=")
    if key.strip() != "r" or not val.strip().isascii() or not val.strip().isdigit() or int(val) < 1:
        raise UserError(f"bad point {text!r}: expected 'truth' or 'truth:r=K' with an integer K >= 1")
    check_rank_fits(int(val))
    return True, int(val)


def _point(text: Optional[str], obj, required: bool = True):
    """``--point``: a file, inline numbers, ``truth`` or ``truth:r=K`` (the ground truth as a point of the objective
    ``obj``, padded to rank K: :func:`benign.certify.checks.truth_point`)."""
    is_truth, rank = _truth_request(text)
    if is_truth:
        return _truth(obj, rank, f"--point {text!r}")
    if text is not None:
        _check_word(text, ("truth", "truth:r=K"))
    return load_point_arg(text, required)


def _truth(obj, rank: Optional[int], what: str):
    """The objective's ground truth at ``rank`` columns, or a one-line error naming ``what`` asked for it."""
    from benign.certify.checks import truth_point

    try:
        T = truth_point(obj, rank)
    except ValueError as exc:
        raise UserError(f"{what}: {exc}") from None
    if T is None:
        raise UserError(f"{what}: the ground truth is not a point of this objective ({obj.factorization} "
                        f"factorisation of a {'symmetric' if obj.symmetric else 'rectangular'} truth); give it "
                        f"explicitly")
    import numpy as np

    if obj.nonnegative and np.all(np.asarray(T) <= 0):  # -Z: the same M* = Z Z^T, and a point of X >= 0
        return -np.asarray(T)
    if obj.nonnegative and np.any(np.asarray(T) < 0) and np.any(np.asarray(T) > 0):
        raise UserError(f"{what}: the ground truth factor has entries of both signs (min {float(np.min(T)):.3g}), so "
                        f"it is not a point of the constraint X >= 0: certify it without the constraint "
                        f"(--no-nonneg)")
    return T


def _check_extra(extra: dict, kind: Optional[str] = None) -> None:
    """``--opt`` names that the certifier of ``kind`` (``None``: not known yet, any certifier) does not take, and
    values it would refuse, refused before anything is built. A setting of certify itself (``gtol``, ``htol``,
    ``method``, ``verify``) is pointed to its own option."""
    from benign.certify_settings import COMMON_SETTINGS

    for key in extra:
        if key in COMMON_SETTINGS:
            flag = "--no-verify" if key == "verify" else f"--{key}"
            raise UserError(f"--opt {key}: use {flag} (a setting of certify, with an option of its own)")
    try:
        check_certify_setting_names(extra, kind)
        for name, value in extra.items():
            check_certify_setting(name, value, f"--opt {name}")
    except (ValueError, TypeError) as exc:
        raise UserError(str(exc)) from None


def _point_before_instance(text: Optional[str], instance: str, factorization: Optional[str] = None,
                           required: bool = True, saved_point: bool = False, nonnegative: Optional[bool] = None):
    """``--point`` (or the point saved in the instance file: ``saved_point``) read, and its number of rows checked
    against the spec or the file's metadata, before the instance is built: no JAX import on a bad point; so is
    ``X >= 0`` when the objective will have that constraint (``nonnegative``, else the spec's default). ``None``
    for ``truth``, which needs the instance: then call :func:`_point` with it."""
    if _truth_request(text)[0]:  # truth:r=K checked now (the instance is needed only for the numbers)
        return None
    X = _point(text, None, required)
    if X is not None:
        what = f"the point saved in {instance}" if saved_point else "--point"
        check_point_rows(X, instance, factorization, what)
        if _nonnegative_before_build(instance, nonnegative, factorization):
            # refused now as make_objective's check_point would after the build
            import numpy as np

            try:
                check_nonnegative_point(what, np.asarray(X, dtype=float).reshape(len(X), -1))
            except ValueError as exc:
                raise UserError(str(exc)) from None
    return X


#: the l1 certifier and X >= 0, refused before the build (certify_l1 refuses it too, naming make_objective's keyword)
L1_NONNEG = ("the l1 certifier does not handle the constraint X >= 0 (--nonneg, or a nonnegative instance's "
             "default): certify the l1 objective without it (--no-nonneg), or use a smooth loss")


def _nonnegative_before_build(instance: str, nonnegative: Optional[bool], factorization: Optional[str]
                              ) -> Optional[bool]:
    """Whether the objective will have ``X >= 0``: ``--nonneg``/``--no-nonneg`` when given, else the spec's default
    (``None`` for a saved instance: its file decides when it is loaded)."""
    if nonnegative is not None:
        return nonnegative
    from benign.specs import objective_nonnegative, parse_instance

    return objective_nonnegative(parse_instance(instance), factorization)


def _certifier_before_build(instance: str, settings: dict) -> Optional[str]:
    """The certifier (:data:`benign.certify_settings.CERTIFIER_SETTINGS` kind) that ``certify`` will use, when the
    loss, ``--nonneg`` or the spec says it without building the instance; ``None`` for a saved instance without
    ``--nonneg``."""
    from benign.certify_settings import certifier_kind

    kind = certifier_kind(settings["loss"].name, instance, settings["factorization"], settings["nonnegative"])
    if kind == "l1" and _nonnegative_before_build(instance, settings["nonnegative"], settings["factorization"]):
        raise UserError(L1_NONNEG)
    return kind


def _check_theory(n: int, symmetric: bool, factorization: Optional[str]) -> None:
    """``--theory`` needs a symmetric problem with ``n <= 30`` (the exact full-rank RIP constant)."""
    if not symmetric or factorization == "asymmetric":
        raise UserError("--theory applies to symmetric problems (the theorems of MATH.md §7)")
    if n > 30:
        raise UserError(f"--theory needs n <= 30 (it computes the exact full-rank RIP constant), got n = {n}; in "
                        "Python, benign.theory.evaluate(instance, X, delta=...) takes a delta")


def _check_word(text: str, words: tuple[str, ...]) -> None:
    """A point or direction that starts with a letter and is no file: name what is accepted (and a near miss)."""
    t = text.strip()
    numeric = t.split(",")[0].split(";")[0].strip().lower().lstrip("+-") in ("nan", "inf", "infinity")
    if t[:1].isalpha() and not numeric and not os.path.exists(t):
        raise UserError(f"cannot read {text!r}: not a file; expected numbers like '1,0;0,1', a .npz/.npy/.csv file "
                        f"or {' / '.join(repr(w) for w in words)}{suggest(t.split(':')[0], ['truth'])}")


LOSS_FROM_FILE_OPT = typer.Option(None, "--loss", help="Loss spec: l2, lp:l=4, mixed:lam=5,l=4, l1, huber:delta=1 "
                                                        "(add scale=mean). Default: the loss saved with the point in "
                                                        "an instance file, else l2.")


def _saved(instance: str) -> tuple[dict, Optional[str]]:
    """For an instance file: the objective settings saved with its point (``benign solve --save``, ``benign hunt
    --save-dir``; empty when none) and the file's path when it holds a point, read without building anything."""
    from benign.specs import parse_instance

    try:
        sp = parse_instance(instance)
    except (ValueError, TypeError) as exc:
        raise UserError(str(exc)) from None
    if sp.kind != "file":
        return {}, None
    from benign.io import holds_point, saved_objective

    path = sp.params["path"]
    return saved_objective(path) or {}, path if holds_point(path) else None


def _settings(instance: str, saved: dict, loss: Optional[str], balance: Optional[float] = None,
              factorization: Optional[str] = None, nonneg: Optional[bool] = None) -> dict:
    """``make_objective`` keywords: the options given, else those ``saved`` with the point, else the defaults. A
    loss given that differs from the saved one is used, with a note on stderr; a factorisation given that differs
    from the saved one drops the saved balance and sign constraint (they belong to the saved factorisation)."""
    if factorization is not None and factorization != saved.get("factorization", factorization):
        saved = {"loss": saved["loss"]} if "loss" in saved else {}
    given = load_loss_arg(loss) if loss is not None else None
    if given is not None and "loss" in saved and given != saved["loss"]:
        print(f"note: {instance} was saved with loss {saved['loss'].describe()}; using --loss "
              f"{given.describe()}", file=sys.stderr)
    return {"loss": given if given is not None else saved.get("loss", load_loss_arg("l2")),
            "factorization": factorization if factorization is not None else saved.get("factorization"),
            "balance": balance if balance is not None else saved.get("balance", 0.0),
            "nonnegative": nonneg if nonneg is not None else saved.get("nonnegative")}


def _human_certificate(out: dict) -> None:
    from rich.table import Table

    console = stdout_console()
    colour = {"global_min": "green", "strict_local_min": "yellow", "strict_saddle": "cyan",
              "degenerate": "magenta", "not_critical": "red"}.get(out["verdict"], "white")
    spur = out["spurious"]
    if spur is None:  # undecided, or not a second-order point (docs/certify.md)
        from benign.certify.verdicts import NOT_CRITICAL, NOT_LOCAL_MIN, STRICT_SADDLE

        spur = "not applicable" if out["verdict"] in (NOT_CRITICAL, STRICT_SADDLE, NOT_LOCAL_MIN) else \
            "undecided (details.global_reason)"
    elif spur is True and out["verdict"] == "degenerate":  # a second-order point, not a local minimum claim
        spur = "True (not global; a degenerate second-order point: no local-minimum claim)"
    console.print(f"[bold {colour}]{out['verdict']}[/]  spurious: {spur}")
    table = Table(show_header=False, box=None)
    for key in ("loss", "grad_norm", "stationarity_gap", "lambda_min", "lambda_max", "symmetry_zeros",
                "certificate_margin", "relative_error"):
        v = out.get(key)
        if v is not None:
            table.add_row(key, f"{v:.6g}" if isinstance(v, float) else str(v))
    d = out.get("details", {})
    for key in ("global_reason", "strict_withdrawn", "second_order_method", "orbit_dim", "flat_directions", "note",
                "caveat"):
        if d.get(key) is not None:
            table.add_row(key, str(d[key]))
    esc = d.get("escape_check")
    if esc and esc.get("t") is not None:
        text = f"f(X + tD) - f(X) = {esc['decrease']:.3g} at t = {esc['t']:.3g}"
        if "witness_t" in esc and esc["witness_t"] != esc["t"]:
            text += f"; largest decrease {esc['witness_decrease']:.3g} at t = {esc['witness_t']:.3g}"
        table.add_row("escape check", text)
    elif esc and esc.get("verified") and esc.get("gamma0") is not None:  # the l1 certifier's curve check
        table.add_row("escape check", f"verified for gamma <= {esc['gamma0']:.3g} (observed coefficient "
                                      f"{esc.get('observed_coefficient', float('nan')):.3g})")
    elif esc and esc.get("verified") is False:
        table.add_row("escape check", f"NOT verified: no tested step decreased f "
                                      f"(t from {esc.get('t_min_tested', float('nan')):.3g} to "
                                      f"{esc.get('t_max_tested', float('nan')):.3g})")
    console.print(table)
    if out.get("theory"):
        for th in out["theory"]:
            if not th.get("applicable", True):
                why = th.get("details", {}).get("not_applicable", "its setting does not hold here")
                console.print(f"  {th['name']:<13} not applicable: {why}")
                continue
            console.print(f"  {th['name']:<13} holds={th['holds']!s:<5} margin={th['margin']:.4g}  "
                          f"({th['conclusion']})")
    if out.get("theory_note"):
        console.print(f"  theory: {out['theory_note']}")


@app.command(cls=Command)
def certify(
    instance: str = typer.Argument(..., help="Instance spec or .npz file."),
    loss: Optional[str] = LOSS_FROM_FILE_OPT,
    point: Optional[str] = CERT_POINT_OPT,
    method: str = METHOD_OPT,
    gtol: float = typer.Option(1e-6, "--gtol", help="Scale-aware stationarity tolerance."),
    htol: float = typer.Option(1e-6, "--htol", help="Relative curvature tolerance."),
    balance: Optional[float] = typer.Option(None, "--balance", help="Balancing weight mu (asymmetric "
                                            "factorisation; default: saved with the point, else 0)."),
    factorization: Optional[str] = typer.Option(None, "--factorization", help="symmetric or asymmetric (default: "
                                                "saved with the point, else the instance's)."),
    nonneg: Optional[bool] = typer.Option(None, "--nonneg/--no-nonneg", metavar="",
                                          help="Impose X >= 0 (default: saved with "
                                          "the point, else the instance's)."),
    no_verify: bool = typer.Option(False, "--no-verify", metavar="", help="Skip evaluating f along escape directions."),
    theory: bool = typer.Option(False, "--theory", metavar="", help="Also evaluate the theorem conditions (small n)."),
    export: Optional[str] = typer.Option(None, "--export", help="Write a self-contained JSON record here (a .json "
                                         "name, or one without an extension such as /dev/stdout)."),
    opt: Optional[List[str]] = OPT_OPT,
    as_json: bool = JSON_OPT,
) -> None:
    """Certify a point: critical?, Hessian spectrum modulo symmetry, global certificate, verdict.

    For an instance file written with a point (``solve --save``, ``hunt --save-dir``) the point and the objective
    settings saved with it are the defaults of ``--point``, ``--loss``, ``--factorization``, ``--balance`` and
    ``--nonneg``."""
    if method not in ("auto", "dense", "lanczos"):
        raise UserError(f"--method must be auto, dense or lanczos, got {method!r}")
    check_certify_setting("gtol", gtol, "--gtol")
    check_certify_setting("htol", htol, "--htol")
    if balance is not None:
        check_float("--balance", balance, lo=0.0)
    extra = parse_options(opt)
    _check_extra(extra)
    if factorization is not None and factorization not in ("symmetric", "asymmetric"):
        raise UserError(f"--factorization must be symmetric or asymmetric, got {factorization!r}")
    export = suffixed_output_path(export, "--export", ".json")
    refuse_stdout_with_json(export, "--export", as_json)
    # the cheap arguments are validated before anything is built (no JAX import on bad input)
    saved, stored_point = _saved(instance)
    settings = _settings(instance, saved, loss, balance, factorization, nonneg)
    point = stored_point if point is None else point
    kind = _certifier_before_build(instance, settings)
    if kind is not None:
        _check_extra(extra, kind)
    fact = factorization_before_build(instance, settings["factorization"])
    if settings["balance"]:  # balancing belongs to the asymmetric factorisation (make_objective says so too)
        if fact == "symmetric":
            raise UserError(f"--balance {settings['balance']:g} applies to the asymmetric factorisation only (this "
                            f"run is symmetric; add --factorization asymmetric)")
    if kind == "l1":
        check_l1_common({"gtol": gtol, "htol": htol, "method": method, "verify": not no_verify},
                        {"gtol": "--gtol", "htol": "--htol", "method": "--method", "verify": "--no-verify"})
    X = _point_before_instance(point, instance, settings["factorization"], saved_point=stored_point is point,
                               nonnegative=settings["nonnegative"])
    if theory:  # from the spec or the file when they say the shape (no JAX), else from the built instance below
        from benign.specs import matrix_shape, parse_instance

        shape = matrix_shape(parse_instance(instance))
        if shape is not None:
            _check_theory(shape[0], shape[2], settings["factorization"])
    inst = load_instance_arg(instance)
    if theory:
        _check_theory(inst.shape[0], inst.symmetric, settings["factorization"])
    if export:
        from benign.io import check_exportable

        try:
            check_exportable(inst)
        except ValueError as exc:
            raise UserError(f"--export: {exc}") from None
    from benign.objective import make_objective

    obj = make_objective(inst, **settings)
    X = _point(point, obj) if X is None else X
    with status_spinner("certifying ...", as_json):
        import numpy as np

        from benign.certify import certify as run_certify
        from benign.certify.verdicts import export as export_record

        Xa = np.asarray(X, dtype=float)
        Xa = Xa[:, None] if Xa.ndim == 1 else Xa
        cert = run_certify(obj, Xa, instance=inst, gtol=gtol, htol=htol, method=method, verify=not no_verify,
                           **extra)
        out = cert.to_dict()
        out.setdefault("loss_spec", obj.loss.describe())
        if theory:
            from benign.theory import evaluate

            out["theory"] = [t.to_dict() for t in evaluate(inst, Xa, loss=obj.loss, nonnegative=obj.nonnegative)]
            if not out["theory"]:
                from benign.rip import full_rank_rip

                delta = full_rank_rip(inst.operator)["delta_upper"]
                out["theory_note"] = (f"no theorem condition evaluated: the full-rank RIP constant delta = "
                                      f"{delta:.4g} (with its rounding bound: the delta the evaluators use) is "
                                      f">= 1, where none applies")
    if export:
        record = export_record(cert, inst, Xa, obj)
        if theory:
            record["theory"] = out["theory"]
        from benign.atomic import write_text

        try:
            write_text(export, json.dumps(to_jsonable(record)) + "\n")
        except OSError as exc:
            raise UserError(f"cannot write {export!r}: {exc}") from None
        out["exported"] = export
    emit(out, as_json, None if as_json else _human_certificate)


def _parse_range(text: str) -> tuple[float, float]:
    try:
        a, b = (float(v) for v in text.split(","))
    except ValueError:
        raise UserError(f"--range must be 'a,b' (two numbers), got {text!r}") from None
    if not (math.isfinite(a) and math.isfinite(b)):
        raise UserError(f"--range needs finite numbers, got {text!r}")
    if not a < b:
        raise UserError(f"--range needs a < b, got {text!r}")
    return a, b


def _read_direction(text: Optional[str], X, option: str):
    """``--dir1``/``--dir2`` before the instance is built: ``None``, ``"truth"`` (resolved by :func:`_direction`), or
    the direction read as a column array, of the point's shape when the point is known (``X``, else ``None``) and
    not zero."""
    import numpy as np

    if text is None or text.strip() == "truth":
        return None if text is None else "truth"
    _check_word(text, ("truth",))
    D = np.asarray(load_point_arg(text), dtype=float)
    D = D[:, None] if D.ndim == 1 else D
    if X is not None:
        _check_direction(D, X[:, None] if X.ndim == 1 else X, option)
    return D


def _check_direction(D, X, option: str) -> None:
    import numpy as np

    if D.shape != X.shape:
        raise UserError(f"{option} must have the point's shape {X.shape}, got {D.shape}")
    if not np.any(D):
        raise UserError(f"{option} is the zero direction: the slice would be one point")


def _direction(read, obj, X, option: str):
    """The direction :func:`_read_direction` read, against the point ``X`` (a column array): ``truth`` is the
    objective's ground truth, padded with zero columns to the point's rank, minus the point."""
    import numpy as np

    if read is None:
        return None
    if isinstance(read, str):  # "truth": towards the ground truth
        D = _truth(obj, X.shape[1], f"{option} 'truth'") - X
        if not np.any(D):
            raise UserError(f"{option} 'truth' is the zero direction: the point is the ground truth (give another "
                            f"point or direction)")
        return D
    _check_direction(read, X, option)
    return read


@app.command(cls=Command)
def landscape(
    instance: str = typer.Argument(..., help="Instance spec or .npz file, or 'seed001' for seed 001's figure."),
    loss: Optional[str] = LOSS_FROM_FILE_OPT,
    point: Optional[str] = CERT_POINT_OPT,
    dir1: Optional[str] = typer.Option(None, "--dir1", help="First direction (file, inline, or 'truth')."),
    dir2: Optional[str] = typer.Option(None, "--dir2", help="Second direction (2-D map)."),
    range_: str = typer.Option("-0.3,1.25", "--range", help="Grid range a,b for both coordinates."),
    grid: int = typer.Option(32, "--grid", help="Grid points per axis."),
    out: Optional[str] = typer.Option(None, "--out", help="Write the figure here (.png/.pdf/.svg)."),
    no_hessian: bool = typer.Option(False, "--no-hessian", metavar="", help="Only f (no lambda_min map)."),
    lams: str = typer.Option("0,0.5,5", "--lams", help="seed001 only: the lambda values."),
    n: int = typer.Option(21, "--n", help="seed001 only: size of the weighted family."),
    eps: float = typer.Option(0.1, "--eps", help="seed001 only: off-pattern weight."),
    as_json: bool = JSON_OPT,
) -> None:
    """Slices of f and lambda_min(Hessian) through a point (1-D with --dir1, 2-D with --dir1 and --dir2).

    For an instance file written with a point, that point and the objective saved with it are the defaults."""
    lo, hi = _parse_range(range_)
    if out is not None:
        output_path(out, "--out")
        ext = os.path.splitext(out)[1].lower().lstrip(".")
        if ext and ext not in FIGURE_FORMATS:  # no extension: PNG
            raise UserError(f"--out {out!r}: the figure format is taken from the extension; choose one of "
                            f"{', '.join('.' + f for f in FIGURE_FORMATS)}")
        if not ext:
            refuse_special_file(out, "--out")
    if grid < 2:
        raise UserError(f"--grid must be >= 2, got {grid}")
    seed001 = instance.strip() == "seed001"
    # options of the other mode are refused, not silently ignored
    wrong = ([name for name, value in (("--loss", loss), ("--point", point), ("--dir1", dir1), ("--dir2", dir2),
                                       ("--no-hessian", no_hessian or None)) if value is not None] if seed001 else
             [name for name, value, default in (("--lams", lams, "0,0.5,5"), ("--n", n, 21), ("--eps", eps, 0.1))
              if value != default])
    if wrong:
        raise UserError(f"{', '.join(wrong)} {'do' if len(wrong) > 1 else 'does'} not apply "
                        + ("to 'seed001' (seed 001's figure: its own family, points and directions; it takes "
                           "--lams, --n, --eps, --range, --grid, --out)" if seed001 else
                           "here: --lams, --n and --eps are options of 'landscape seed001'"))
    if seed001:
        try:
            lam_values = [float(v) for v in lams.split(",") if v.strip()]
        except ValueError:
            raise UserError(f"--lams must be comma-separated numbers, got {lams!r}") from None
        if not lam_values or not all(math.isfinite(v) and v >= 0 for v in lam_values):
            raise UserError(f"--lams must be finite numbers >= 0 (the weights lambda of the mixed loss, l = 4), "
                            f"got {lams!r}")
        from benign.landscape_limits import check_seed001_settings

        try:  # before JAX is imported
            check_seed001_settings(lam_values, n, eps, grid, lo, hi, {"n": "--n", "eps": "--eps", "grid": "--grid",
                                                                       "lo": "--range (low end)",
                                                                       "hi": "--range (high end)", "lam": "--lams"})
        except (TypeError, ValueError) as exc:
            raise UserError(str(exc)) from None
        with status_spinner("computing seed 001's landscape ...", as_json):
            from benign.landscape import plot_seed001, save_figure, seed001_landscape

            res = seed001_landscape(lam_values, n=n, eps=eps, grid=grid, lo=lo, hi=hi)
            result = res.to_dict()
            if out:
                result["figure"] = save_figure(plot_seed001(res), out)
        summary = {k: result[k] for k in ("n", "eps", "lam_values", "gd_iterations", "verdicts")}
        summary["lambda_min_range"] = [[round(float(min(map(min, m))), 4), round(float(max(map(max, m))), 4)]
                                       for m in result["lambda_min"]]
        summary["figure"] = result.get("figure")
        emit(result if as_json else summary, as_json)
        return
    saved, stored_point = _saved(instance)  # a file's point and loss are the defaults, as in `benign certify`
    settings = _settings(instance, saved, loss)  # validated before anything is built
    point = stored_point if point is None else point
    X = _point_before_instance(point, instance, settings["factorization"], saved_point=stored_point is point,
                               nonnegative=settings["nonnegative"])
    # directions read once, and checked against a point already read, before the build
    read1, read2 = _read_direction(dir1, X, "--dir1"), _read_direction(dir2, X, "--dir2")
    if dir1 is None:
        raise UserError("--dir1 is required (a direction, or 'truth' for the ground truth minus the point)")
    from benign.landscape_limits import check_request
    from benign.specs import parse_instance, point_rows

    size = 0 if X is None else int(X.size)
    is_truth, rank = _truth_request(point)
    rows = point_rows(parse_instance(instance), settings["factorization"]) if is_truth and rank else None
    if rows is not None:  # truth:r=K: N K
        size = rows[0] * rank
    try:  # what can be known before the build (N r once the point is read; it is checked again below)
        check_request(settings["loss"].name, size, grid if dir2 is None else grid * grid, not no_hessian)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    inst = load_instance_arg(instance)
    import numpy as np

    from benign.objective import make_objective

    obj = make_objective(inst, **settings)
    X = np.asarray(_point(point, obj) if X is None else X, dtype=float)
    X = obj.check_point(X[:, None] if X.ndim == 1 else X, "--point", host=True)  # the point first, by its name
    from benign.landscape import check_request

    check_request(obj.loss.name, X.size, grid if dir2 is None else grid * grid, not no_hessian)  # before directions
    D1 = _direction(read1, obj, X, "--dir1")
    D2 = _direction(read2, obj, X, "--dir2")
    with status_spinner("computing the slice ...", as_json):
        from benign.landscape import grid_points, plot_slice, save_figure, slice_1d, slice_2d

        g = grid_points(lo, hi, grid)
        if D2 is None:
            res = slice_1d(obj, X, D1, g, hessian=not no_hessian)
        else:
            res = slice_2d(obj, X, D1, D2, g, g, hessian=not no_hessian)
        result = {k: np.asarray(v).tolist() for k, v in res.items()}
        result["kind"] = "1d" if D2 is None else "2d"
        # what the numbers are the values of (a referee recomputes them from the instance, the loss and these)
        result.update({"instance": inst.name, "instance_arg": instance, "loss_spec": obj.loss.describe(),
                       "factorization": obj.factorization, "balance": obj.balance, "nonnegative": obj.nonnegative,
                       "range": [lo, hi], "grid": grid,
                       "slice": ("f[i] = f(point + alphas[i] dir1)" if D2 is None else
                                 "f[i][j] = f(point + alphas[i] dir1 + betas[j] dir2)"),
                       "point": X.tolist(), "dir1": np.asarray(D1).tolist(),
                       "dir2": None if D2 is None else np.asarray(D2).tolist()})
        if out:
            result["figure"] = save_figure(plot_slice(res, title=inst.name), out)
    if as_json:
        emit(result, True)
        return
    f = np.asarray(res["f"])
    summary = {"kind": result["kind"], "grid": grid, "range": [lo, hi], "f_range": [float(f.min()), float(f.max())]}
    if "lambda_min" in res:
        lm = np.asarray(res["lambda_min"])
        summary["lambda_min_range"] = [float(lm.min()), float(lm.max())]
    summary["figure"] = result.get("figure")
    emit(summary, False)
