"""Shared pieces of the command line: the Typer app, input loading and output (human or ``--json``).

Nothing here imports JAX, CVXPY or Dask at module level: ``benign --help`` and every bad-input error answer fast.
"""
from __future__ import annotations

import contextlib
import json
import sys
from typing import Any, Callable, ContextManager, Iterator

import typer
from typer.core import TyperCommand, TyperGroup

from benign.serialize import to_jsonable  # noqa: F401  (re-exported)


class _HelpFlag:
    """``--help`` listed as the flag it is (Typer shows its type, ``<bool>``, beside it otherwise)."""

    def get_help_option(self, ctx):
        option = super().get_help_option(ctx)
        if option is not None:
            option.metavar = ""
        return option


class Command(_HelpFlag, TyperCommand):
    """Every command of benign (``@app.command(cls=Command)``)."""


class Group(_HelpFlag, TyperGroup):
    """Every command group of benign (``typer.Typer(cls=Group)``)."""


app = typer.Typer(
    cls=Group,
    name="benign",
    help="A laboratory for the nonconvex landscape of low-rank matrix recovery (Burer-Monteiro).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _print_version(value: bool) -> None:
    if value:
        from importlib.metadata import PackageNotFoundError, version

        try:
            print(f"benign {version('benign')}")
        except PackageNotFoundError:  # run from a source tree without installing
            print("benign (not installed)")
        raise typer.Exit()


@app.callback()
def _main(version: bool = typer.Option(False, "--version", metavar="", help="Print the version and exit.",
                                       is_eager=True, callback=_print_version)) -> None:
    """A laboratory for the nonconvex landscape of low-rank matrix recovery (Burer-Monteiro)."""


_JSON_REQUESTED = [False]


def _note_json(value: bool) -> bool:
    """Callback of ``--json``: remembers that the output is JSON (a failure then also prints JSON)."""
    if value:
        _JSON_REQUESTED[0] = True
    return value


def json_requested(reset: bool = False) -> bool:
    """Whether the running command was given ``--json`` (as a flag, not as another option's value); ``reset``
    forgets it (the entry point does, before each command)."""
    if reset:
        _JSON_REQUESTED[0] = False
    return _JSON_REQUESTED[0]


JSON_OPT = typer.Option(False, "--json", metavar="", callback=_note_json, help="Print the result as JSON on stdout.")
LOSS_OPT = typer.Option("l2", "--loss",
                        help="Loss spec: l2, lp:l=4, mixed:lam=5,l=4, l1, huber:delta=1 (add scale=mean).")
POINT_OPT = typer.Option(None, "--point", help="Point: a file (.npz/.npy/.csv) or inline '1,0,1' / '1,0;0,1'.")


def tell(lines: str | list[str], as_json: bool, kind: str = "note") -> None:
    """Notes or warnings for a person, one per line on stderr (``note: ...``); nothing with ``--json``, whose output
    carries them as keys instead."""
    if as_json:
        return
    for line in [lines] if isinstance(lines, str) else lines:
        print(f"{kind}: {line}", file=sys.stderr)


class UserError(Exception):
    """Bad input detected by a command; printed as one line, exit status 2."""


class NoResult(Exception):
    """The computation ran but gave nothing to print (e.g. no conic solver solved the SDP); one line, exit status 1."""


def npz_output_path(path: str | None, option: str) -> str | None:
    """An instance file to write (see :func:`suffixed_output_path`): ``run_lam0.5`` becomes ``run_lam0.5.npz``
    (NumPy's ``savez`` would append it anyway)."""
    return suffixed_output_path(path, option, ".npz", append=True)


def suffixed_output_path(path: str | None, option: str, ext: str, *, append: bool = False) -> str | None:
    """A file of one format to write (see :func:`output_path`): a name ending in a separator, or in another extension
    that starts with a letter (``.txt``, ``.NPZ``), is refused (the file would not be what its name says); a name
    without an extension is kept (``/dev/stdout``, ``record``), or gets ``ext`` with ``append``."""
    import os

    if path == "-" or (path and os.path.isdir(path)):  # '-' and an existing folder: refused by output_path
        return output_path(path, option)
    if path and (path.endswith(os.sep) or (os.altsep and path.endswith(os.altsep))):
        raise UserError(f"{option} needs a file name, got the folder {path!r}")
    if path and not path.endswith(ext):
        if os.path.splitext(path)[1][1:2].isalpha():
            raise UserError(f"{option} writes a {ext} file: give a name ending in {ext}"
                            f"{' (or without an extension)' if append else ''}, got {path!r}")
        if append:
            refuse_special_file(path, option)
            path += ext
    return output_path(path, option)


def refuse_special_file(path: str, option: str) -> None:
    """A name that would get an extension appended must not be a device or a pipe (``/dev/stdout`` would become a
    file ``/dev/stdout.npz``)."""
    import os

    if os.path.exists(path) and not os.path.isfile(path) and not os.path.isdir(path):
        raise UserError(f"{option} {path!r} is a device or a pipe, not a file name: this output is written as a "
                        f"file (give a file name)")


def refuse_stdout_with_json(path: str | None, option: str, as_json: bool) -> None:
    """With ``--json`` standard output holds exactly one JSON object: an output file that is standard output
    (``/dev/stdout``, ``/dev/fd/1``, or the file stdout is redirected to) is refused."""
    from benign.atomic import is_stdout

    if as_json and path and is_stdout(path):
        raise UserError(f"{option} {path!r} is standard output, where --json writes its one object: give a file, or "
                        f"drop --json")


def output_path(path: str | None, option: str, *, directory: bool = False) -> str | None:
    """Check, before any work is done, that ``path`` can be written: a file (``directory=False``) must not be an
    existing folder, and the nearest existing folder above it must be a writable folder (missing folders in between
    are created when writing). Returns ``path``; raises :class:`UserError` naming the option and the path."""
    import os

    if path is None:
        return None
    if not path:
        raise UserError(f"{option} needs a path, got an empty string")
    if path == "-":  # the shell convention for standard output: not this option's (it would write a file named -)
        raise UserError(f"{option} '-': this output is written as a file, not to standard output (give a file name; "
                        f"--json prints the result)")
    full = os.path.abspath(path)
    if os.path.exists(full):
        if os.path.isdir(full) != directory:
            raise UserError(f"cannot write {option} {path!r}: it is an existing "
                            f"{'file, not a folder' if directory else 'folder, not a file'}")
        if not os.access(full, os.W_OK):
            raise UserError(f"cannot write {option} {path!r}: permission denied")
        if directory:
            _try_writing_in(full, option, path)
        elif os.path.isfile(full):  # (not a pipe or a device: opening one would block or consume it)
            try:  # opened for appending and closed at once: the file is not changed
                open(full, "ab").close()
            except OSError as exc:
                raise UserError(f"cannot write {option} {path!r}: {exc.strerror or exc}") from None
            from benign.atomic import written_in_place

            if not written_in_place(full):  # the new file is made beside the old one, then moved onto it
                _try_writing_in(os.path.dirname(os.path.realpath(full)), option, path)
        return path
    parent = os.path.dirname(full)
    while not os.path.exists(parent):
        parent = os.path.dirname(parent)
    if not os.path.isdir(parent):
        raise UserError(f"cannot write {option} {path!r}: {parent!r} is a file, not a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise UserError(f"cannot write {option} {path!r}: folder {parent!r} is not writable")
    _try_writing_in(parent, option, path)
    return path


def _try_writing_in(folder: str, option: str, path: str) -> None:
    """Create and remove a scratch file in ``folder``: ``os.access`` answers "writable" to root everywhere (and
    knows nothing of read-only mounts or pseudo-filesystems such as ``/sys``), and a result must not be lost after
    the work because its folder refuses the file."""
    import tempfile

    try:
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".benign-write-test-"):
            pass
    except OSError as exc:
        raise UserError(f"cannot write {option} {path!r}: folder {folder!r} refuses new files "
                        f"({exc.strerror or exc})") from None


def stdout_console():
    """A Rich console on stdout: the terminal's width, or 160 columns when stdout is a pipe or a file (Rich's 80
    would cut tables there) unless ``COLUMNS`` says otherwise."""
    import os

    from rich.console import Console

    return Console() if sys.stdout.isatty() or os.environ.get("COLUMNS") else Console(width=160)


def status_spinner(message: str, quiet: bool) -> ContextManager[Any]:
    """A Rich spinner on stderr while long work runs (only on a terminal and without ``--json``)."""
    if quiet or not sys.stderr.isatty():
        return contextlib.nullcontext()
    from rich.console import Console

    return Console(stderr=True).status(message)


@contextlib.contextmanager
def progress_bar(label: str, quiet: bool) -> Iterator[Callable[[int, int], None] | None]:
    """A Rich progress bar on stderr (only on a terminal and without ``--json``, else ``None``), yielding
    ``update(done, total)``; it disappears when the work ends."""
    if quiet or not sys.stderr.isatty():
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(TextColumn(f"[bold]{label}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(label, total=None)
        yield lambda done, total: bar.update(task, completed=done, total=total)


def emit(result: Any, as_json: bool, human: Callable[[Any], None] | None = None) -> None:
    """Print ``result`` as JSON (``as_json``) or through ``human`` (default: :func:`human_lines`)."""
    if as_json:
        sys.stdout.write(json.dumps(to_jsonable(result), indent=2) + "\n")
        return
    if human is not None:
        human(result)
        return
    import textwrap

    from rich.markup import escape

    console = stdout_console()
    for line in human_lines(to_jsonable(result)):
        # long values wrap under themselves (a hanging indent), not at the left margin
        pad = " " * (len(line) - len(line.lstrip()) + 4)
        wrapped = textwrap.fill(line, width=max(console.width, 40), subsequent_indent=pad, break_long_words=False,
                                break_on_hyphens=False).split("\n")
        key, sep, rest = wrapped[0].partition(": ")
        console.print(f"[bold]{escape(key)}[/bold]{sep}{escape(rest)}" if sep else f"[bold]{escape(key)}[/bold]",
                      soft_wrap=True)
        for more in wrapped[1:]:
            console.print(escape(more), soft_wrap=True)


def _human_value(v: Any) -> str:
    """One value for the human view: floats to 6 significant digits (``--json`` keeps every digit), a long list
    as its length."""
    if isinstance(v, bool) or v is None:
        return str(v)
    if isinstance(v, float):
        return f"{v:.6g}"
    if isinstance(v, list):
        text = "[" + ", ".join(_human_value(x) for x in v) + "]"
        if all(isinstance(x, (int, float, str, bool, list)) or x is None for x in v) and len(text) <= 100:
            return text  # short lists (of numbers, or of short lists) in full
        return f"[{len(v)} entries]"
    return str(v)


def human_lines(result: dict[str, Any], indent: int = 0) -> list[str]:
    """``key: value`` lines of a JSON-ready dict; a nested dict (or a short list of dicts) as an indented block
    under its key."""
    pad = "  " * indent
    lines = []
    for k, v in result.items():
        if isinstance(v, dict) and v:
            lines.append(f"{pad}{k}:")
            lines.extend(human_lines(v, indent + 1))
        elif isinstance(v, list) and v and len(v) <= 8 and all(isinstance(x, dict) for x in v):
            lines.append(f"{pad}{k}:")
            for i, x in enumerate(v):
                lines.append(f"{pad}  [{i}]")
                lines.extend(human_lines(x, indent + 2))
        else:
            lines.append(f"{pad}{k}: {_human_value(v)}")
    return lines


def load_instance_arg(spec: str):
    """Parse (fast, no JAX) then build an instance; raises :class:`UserError` on bad input."""
    from benign.specs import parse_instance

    try:
        sp = parse_instance(spec)
    except (ValueError, TypeError) as exc:
        raise UserError(str(exc)) from None
    if sp.kind == "file":  # checked in full before JAX is imported (a damaged file is refused at once)
        from benign.io import load_instance

        return load_instance(sp.params["path"])
    from benign.instances import build

    return build(sp)


def load_loss_arg(spec: str):
    from benign.specs import parse_loss

    try:
        return parse_loss(spec)
    except (ValueError, TypeError) as exc:
        raise UserError(str(exc)) from None


def load_point_arg(text: str | None, required: bool = True):
    from benign.specs import parse_point

    if text is None:
        if required:
            raise UserError("a point is required: --point FILE or --point '1,0;0,1'")
        return None
    try:
        return parse_point(text)
    except (ValueError, TypeError) as exc:
        raise UserError(str(exc)) from None


def factorization_before_build(instance: str, factorization: str | None) -> str | None:
    """The factorisation a run will use, known before anything is built: ``factorization`` when given, else the
    instance's (from the spec, or a saved instance's metadata; ``None`` when neither says). A symmetric factorisation
    of a rectangular instance is refused here (``UserError``)."""
    from benign.specs import matrix_shape, parse_instance

    try:
        shape = matrix_shape(parse_instance(instance))
    except (ValueError, TypeError) as exc:
        raise UserError(str(exc)) from None
    fact = factorization or (None if shape is None else "symmetric" if shape[2] else "asymmetric")
    if shape is not None and fact == "symmetric" and shape[0] != shape[1]:
        given = "--factorization symmetric" if factorization else "the symmetric factorisation (the instance's)"
        raise UserError(f"{given} needs a square instance, got {shape[0]} x {shape[1]}")
    return fact


def check_point_rows(X: Any, instance: str, factorization: str | None, option: str) -> None:
    """A point's number of rows against what the instance spec implies, or a saved instance's metadata (no JAX:
    nothing is built)."""
    from benign.specs import parse_instance, point_rows

    try:
        rows = point_rows(parse_instance(instance), factorization)
    except (ValueError, TypeError) as exc:
        raise UserError(str(exc)) from None
    shape = getattr(X, "shape", ())
    if rows is not None and len(shape) in (1, 2) and shape[0] != rows[0]:
        raise UserError(f"{option} must have {rows[0]} rows ({rows[1]}) for {instance}, got shape "
                        f"{shape if len(shape) == 2 else (shape[0], 1)}")


def default_method_before_build(instance: str, loss_name: str, nonnegative: bool | None = None,
                                factorization: str | None = None) -> str | None:
    """The local method :func:`benign.hunt.default_method` will pick, when the constraint (``nonnegative``, else
    the spec) says it without building the instance: projected GD under ``X >= 0``, subgradient for l1, else GD;
    ``None`` for a saved instance without ``nonnegative`` (its truth decides)."""
    from benign.specs import objective_nonnegative, parse_instance

    if nonnegative is None:
        try:
            nonnegative = objective_nonnegative(parse_instance(instance), factorization)
        except (ValueError, TypeError) as exc:
            raise UserError(str(exc)) from None
    if nonnegative is None:
        return None
    return "projected-gd" if nonnegative else "subgradient" if loss_name == "l1" else "gd"


def check_method_fits(method: str | None, loss_name: str, nonnegative: bool | None, *,
                      constraint_option: bool = True) -> None:
    """A local method the objective would refuse, refused before anything is built (the solvers' own refusals say
    the same after building, naming make_objective's keyword): projected-gd with and only with the constraint
    ``X >= 0`` (``nonnegative``; ``None``: not known yet), trust-region not for the l1 loss. ``constraint_option``:
    the command has ``--constraint`` to offer."""
    if method is None:
        return
    if nonnegative is not None:
        if method == "projected-gd" and not nonnegative:
            raise UserError("--method projected-gd needs the constraint X >= 0" + (
                ": add --constraint nonneg (this instance is not marked nonnegative)" if constraint_option else
                " (this instance is not nonnegative)"))
        if nonnegative and method != "projected-gd":
            raise UserError(f"--method {method} ignores the constraint X >= 0 of this run (a nonnegative instance's "
                            f"default, or --constraint nonneg): use --method projected-gd (the default here)"
                            + (", or --constraint none to drop the constraint" if constraint_option else ""))
    if method == "trust-region" and loss_name == "l1":
        raise UserError("--method trust-region needs a twice-differentiable loss; the l1 loss has no Hessian (use "
                        "--method subgradient)")


def split_loop_options(given: dict[str, Any], own: tuple[str, ...] = ("max_iter", "gtol", "rtol", "history_every")
                       ) -> tuple[dict[str, Any], dict[str, Any]]:
    """``--opt`` settings split into the method's and the loop's (``benign.solver_options.LOOP_SETTINGS``, checked
    here); a loop setting that the command has an option of its own for (``own``: ``--rtol``, ...) is refused naming
    that option."""
    from benign.solver_options import LOOP_SETTINGS, check_loop_setting

    method, loop = {}, {}
    for key, value in given.items():
        if key in own:
            raise UserError(f"--opt {key}: use --{key.replace('_', '-')} (a setting of the loop, with an option of "
                            f"its own)")
        if key in LOOP_SETTINGS:
            try:
                loop[key] = check_loop_setting(key, value, f"--opt {key}")
            except (TypeError, ValueError) as exc:
                raise UserError(str(exc)) from None
        else:
            method[key] = value
    return method, loop


def parse_options(items: list[str] | None) -> dict[str, Any]:
    """``--opt key=value`` pairs into a dict; values parsed as int, float, bool or left as strings. A key given
    twice is refused (which one was meant?)."""
    out: dict[str, Any] = {}
    for item in items or []:
        key, eq, val = item.partition("=")
        if not eq or not key:
            raise UserError(f"bad --opt {item!r}: expected key=value")
        if key in out:
            raise UserError(f"--opt {key} is given twice ({key}={out[key]!r} and {item!r}): give it once")
        low = val.lower()
        if low in ("true", "false"):
            out[key] = low == "true"
            continue
        try:
            out[key] = int(val)
        except ValueError:
            try:
                out[key] = float(val)
            except ValueError:
                out[key] = val
    return out
