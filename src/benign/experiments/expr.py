"""Safe arithmetic/boolean expressions over a trial's numbers (success rules, grid filters).

An expression is Python syntax restricted to: numbers, strings, ``True``/``False``/``None``, names, tuples/lists
of constants, ``+ - * / // % **``, unary ``-``/``+``/``not``, comparisons (``< <= == != >= > in``, ``not in``,
chained), ``and``/``or``, ``x if c else y`` and calls of ``abs min max sqrt log log10 exp isnan isfinite``.
Nothing else parses (no attributes, subscripts, lambdas, comprehensions), so evaluating a spec file's rule never
runs arbitrary code.

Missing values: when a name used by the expression is absent or ``None`` for a row, the value is ``None``
(counted as "unknown", never as a failure). NaN follows IEEE rules (``nan <= 1e-3`` is ``False``). An evaluation
that raises (``'a' + 1``, ``log(-1)``, ``1/0``) gives NaN, and :meth:`Expr.evaluate` returns the error with it (the
sweep report counts and shows these).
"""
from __future__ import annotations

import ast
import math
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

from benign.errors import suggest

FUNCTIONS = {"abs": abs, "min": min, "max": max, "sqrt": math.sqrt, "log": math.log, "log10": math.log10,
             "exp": math.exp, "isnan": math.isnan, "isfinite": math.isfinite}

_ALLOWED = (ast.Expression, ast.BoolOp, ast.And, ast.Or, ast.BinOp, ast.Add, ast.Sub, ast.Mult, ast.Div,
            ast.FloorDiv, ast.Mod, ast.Pow, ast.UnaryOp, ast.USub, ast.UAdd, ast.Not, ast.Compare, ast.Lt,
            ast.LtE, ast.Gt, ast.GtE, ast.Eq, ast.NotEq, ast.In, ast.NotIn, ast.Name, ast.Load, ast.Constant,
            ast.Tuple, ast.List, ast.Call, ast.IfExp)


@dataclass(frozen=True)
class Expr:
    """A compiled, validated expression; ``names`` are the variables it reads (functions excluded)."""

    text: str
    names: frozenset
    code: Any

    def __call__(self, row: Mapping[str, Any]) -> Any:
        """Evaluate on one row (a mapping name -> value); ``None`` when a needed value is missing, NaN when the
        evaluation raises (see :meth:`evaluate`)."""
        return self.evaluate(row)[0]

    def evaluate(self, row: Mapping[str, Any]) -> tuple[Any, str | None]:
        """``(value, error)``: the value as :meth:`__call__` gives it, and ``"TypeError: ..."`` when the evaluation
        raised (an arithmetic, value or type error: the value is then NaN), else ``None``."""
        env = {}
        for k in self.names:
            v = row.get(k)
            if v is None:
                return None, None
            env[k] = v
        try:
            return eval(self.code, {"__builtins__": {}, **FUNCTIONS}, env), None  # noqa: S307 (AST-whitelisted)
        except (ArithmeticError, ValueError, TypeError) as exc:
            return float("nan"), f"{type(exc).__name__}: {exc}"


def compile_expr(text: str, what: str = "expression", known: Iterable[str] | None = None) -> Expr:
    """Parse and validate ``text``; raise ``ValueError`` naming ``what`` and the offending part.

    ``known``: when given, every variable must be one of these names (else a "did you mean" error).
    """
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"{what} must be a non-empty expression string, got {text!r}")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        raise ValueError(f"{what} {text!r} is not a valid expression: {exc.msg}") from None
    names: set[str] = set()
    for node in ast.walk(tree):
        if not isinstance(node, _ALLOWED):
            raise ValueError(f"{what} {text!r}: {type(node).__name__} is not allowed "
                             "(use numbers, names, arithmetic, comparisons, and/or/not)")
        if isinstance(node, ast.Call):
            fname = ast.unparse(node.func)  # e.g. 'np.log' for an attribute
            if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS:
                raise ValueError(f"{what} {text!r}: unknown function {fname!r}{suggest(fname, FUNCTIONS)}; "
                                 f"allowed: {', '.join(FUNCTIONS)}")
            if node.keywords:
                raise ValueError(f"{what} {text!r}: {fname}() takes no keyword arguments")
        elif isinstance(node, ast.Name) and node.id not in FUNCTIONS and node.id not in ("True", "False", "None"):
            names.add(node.id)
    expr = Expr(text.strip(), frozenset(names), compile(tree, f"<{what}>", "eval"))
    if known is not None:
        check_names(expr, known, what)
    return expr


def check_names(expr: Expr, known: Iterable[str], what: str = "expression") -> None:
    """``ValueError`` (with a "did you mean") for the first variable of ``expr`` that is not in ``known``."""
    known = set(known)
    for n in sorted(expr.names):
        if n not in known:
            raise ValueError(f"{what} {expr.text!r} uses unknown name {n!r}{suggest(n, known)}; "
                             f"known: {', '.join(sorted(known))}")
