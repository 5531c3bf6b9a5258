"""``benign reproduce``: regenerate the three source papers' results (one module per study).

Each study's ``run(out_dir, quick, options)`` writes ``report.md``, PNG figures and ``results.json`` into its own
folder, runs its trials through the sweep engine (resumable; ``--workers``/``--scheduler`` apply) and returns a
summary dict. Every number in a report is computed by the run that wrote it; published values are marked.
"""
from __future__ import annotations

import importlib

#: study name -> module
STUDIES = {"high-order-loss": "benign.reproduce.high_order", "nonnegative": "benign.reproduce.nonnegative",
           "robust-l1": "benign.reproduce.robust_l1"}


def run_study(name: str, out_dir: str, quick: bool = False, options=None) -> dict:
    """Run one study by name (see :data:`STUDIES`) into ``out_dir``."""
    from benign.errors import check_choice
    from benign.reproduce.common import RunOptions

    check_choice("study", name, STUDIES, " or all")
    module = importlib.import_module(STUDIES[name])
    return module.run(out_dir, quick=quick, options=options or RunOptions())
