"""A small Markdown report builder used by every reproduction study, plus the ``results.json`` writer."""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any, Sequence


def fmt(v: Any, digits: int = 4) -> str:
    """Format a table cell: floats with ``digits`` significant decimals, None as an em dash."""
    if v is None:
        return "—"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        if v != v:
            return "nan"
        if v != 0 and (abs(v) < 1e-3 or abs(v) >= 1e5):
            return f"{v:.{max(digits - 1, 1)}e}"
        return f"{v:.{digits}f}".rstrip("0").rstrip(".") if "." in f"{v:.{digits}f}" else f"{v:.{digits}f}"
    return str(v)


@dataclass
class Report:
    """Markdown report accumulated in order; figures are paths relative to the report's directory."""

    title: str
    out_dir: str
    lines: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        os.makedirs(self.out_dir, exist_ok=True)
        self.lines.append(f"# {self.title}\n")

    def heading(self, text: str, level: int = 2) -> None:
        self.lines.append(f"\n{'#' * level} {text}\n")

    def para(self, text: str) -> None:
        self.lines.append(text.strip() + "\n")

    def bullets(self, items: Sequence[str]) -> None:
        self.lines.extend(f"- {it}" for it in items)
        self.lines.append("")

    def table(self, headers: Sequence[str], rows: Sequence[Sequence[Any]], digits: int = 4) -> None:
        self.lines.append("| " + " | ".join(headers) + " |")
        self.lines.append("|" + "|".join("---" for _ in headers) + "|")
        for row in rows:
            self.lines.append("| " + " | ".join(fmt(v, digits) for v in row) + " |")
        self.lines.append("")

    def figure(self, path: str, caption: str) -> None:
        rel = os.path.relpath(path, self.out_dir)
        self.lines.append(f"![{caption}]({rel})\n\n*{caption}*\n")

    def write(self, name: str = "report.md") -> str:
        from benign.atomic import write_text

        return write_text(os.path.join(self.out_dir, name), "\n".join(self.lines).rstrip() + "\n")


def write_results(out_dir: str, results: dict[str, Any], name: str = "results.json") -> str:
    """Write ``results`` as JSON (NumPy values converted; non-finite floats as strings)."""
    from benign.atomic import write_text
    from benign.serialize import to_jsonable

    return write_text(os.path.join(out_dir, name), json.dumps(to_jsonable(results), indent=2))
