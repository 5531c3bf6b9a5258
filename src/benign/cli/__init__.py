"""The ``benign`` command line: a thin shell over the library (one module per command group)."""
from __future__ import annotations

import sys

from benign.cli._common import NoResult, UserError, app, json_requested

# Each module registers its commands on ``app`` when imported; none imports JAX at module level.
from benign.cli import core  # noqa: F401,E402  (instance, info)
from benign.cli import solve  # noqa: F401,E402  (solve)
from benign.cli import certify  # noqa: F401,E402  (certify, landscape)
from benign.cli import counterexample  # noqa: F401,E402  (rip, counterexample)
from benign.cli import sweep  # noqa: F401,E402  (sweep run|status|report|export)
from benign.cli import hunt  # noqa: F401,E402  (hunt)
from benign.cli import reproduce  # noqa: F401,E402  (reproduce)


def _given_value(param) -> str | None:
    """The command-line text given for an option that click refused (its message does not always quote it)."""
    opts = getattr(param, "opts", None) or []
    args = sys.argv[1:]
    for i, arg in enumerate(args):
        for opt in opts:
            if arg == opt and i + 1 < len(args):
                return args[i + 1]
            if arg.startswith(opt + "="):
                return arg[len(opt) + 1:]
    return None


def _fail(message: str, code: int, parsing: bool = False) -> None:
    """Report a failure and exit with ``code``: one line on stderr (``error: ...``, or ``interrupted``), and with
    ``--json`` also ``{"error": message, "exit_code": code}`` on stdout, so that a JSON reader gets JSON. ``--json``
    is known from its option callback; a failure while the command line is parsed (``parsing``), before callbacks
    ran, looks for it among the arguments."""
    print(message if code == 130 else f"error: {message}", file=sys.stderr)
    if json_requested() or (parsing and "--json" in sys.argv[1:]):
        import json

        try:
            print(json.dumps({"error": message, "exit_code": code}))
        except BrokenPipeError:
            pass
    if code == 130:
        _leave_now(code)
    sys.exit(code)


def _leave_now(code: int) -> None:
    """Exit at once after Ctrl-C, without the interpreter's teardown: an interrupted compiled computation can still be
    running on JAX's threads, and finalising the runtime under it crashed (SIGSEGV) in about half of the interrupted
    ``rip`` searches. Everything the command keeps (a sweep's store, a hunt's catalogue) was written while the
    interrupt unwound the stack, before this point; the output streams are flushed here."""
    import os

    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(code)


def main() -> None:
    """Entry point: bad input (ValueError/TypeError/UserError) prints one line and exits with status 2, a computation
    without a result (:class:`NoResult`) with status 1; Ctrl-C prints ``interrupted`` and exits with status 130 (what
    a sweep stored is kept: rerun it to resume). With ``--json`` the failure is also a JSON object on stdout
    (:func:`_fail`)."""
    json_requested(reset=True)
    try:
        code = app(standalone_mode=False)
    except UserError as exc:
        _fail(str(exc), 2)
    except NoResult as exc:
        _fail(str(exc), 1)
    except (ValueError, TypeError) as exc:
        _fail(str(exc), 2)
    except BrokenPipeError:  # the output's reader went away (`benign ... --json | head`): nothing to report
        sys.exit(0)
    except OSError as exc:  # a file that cannot be read or written (paths are checked early; this is the fallback)
        where = f" {exc.filename!r}" if exc.filename else ""
        _fail(f"cannot access{where}: {exc.strerror or exc}", 2)
    except SystemExit:
        raise
    except MemoryError as exc:  # sizes are checked early where they can be; this is the fallback
        _fail(f"out of memory{': ' + str(exc) if str(exc) else ''}", 2)
    except KeyboardInterrupt:
        _fail("interrupted", 130)
    except Exception as exc:  # usage errors of the (vendored) click inside Typer, and the like
        show, code = getattr(exc, "show", None), getattr(exc, "exit_code", None)
        message = getattr(exc, "format_message", None)
        if callable(message) and isinstance(code, int):  # one line, as every other bad input
            text = message().strip()
            if text:  # (empty when the help was shown for a bare command group)
                ctx = getattr(exc, "ctx", None)
                where = f" (see {ctx.command_path} --help)" if ctx is not None else ""
                given = _given_value(getattr(exc, "param", None))
                if given is not None and repr(given) not in text:
                    text = f"{text.rstrip('.')}, got {given!r}"
                _fail(f"{text}{where}", code, parsing=True)
            sys.exit(code)
        if callable(show) and isinstance(code, int):
            show()
            sys.exit(code)
        if type(exc).__name__ == "Abort":
            sys.exit(1)
        raise
    # Outside standalone mode Typer returns the code of an ``Exit`` instead of exiting, and turns Ctrl-C into
    # ``Exit(130)`` (no command of benign raises that code itself)
    if isinstance(code, int) and code:
        if code == 130:
            _fail("interrupted", 130)
        sys.exit(code)


if __name__ == "__main__":
    main()
