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
#: study name -> what it reproduces (``benign reproduce list``)
TITLES = {"high-order-loss": "seed 001 (Ma, Chen, Lavaei, Sojoudi), high-order losses: the Hessian table of the "
                             "weighted-completion family, lambda_max/lambda_min against lam, perturbed-GD curves, "
                             "lambda_min landscape maps, Theorem 3/6 bounds",
          "nonnegative": "seed 000, nonnegative recovery: (a) no spurious points fully observed, rank 1; (b) "
                         "certified spurious nonnegative local minima at designed RIP constants; (c) a search for "
                         "rank-2 spurious minima fully observed (verdict tallies: not exhibited on random truths); "
                         "projected GD's failure rates",
          "robust-l1": "seed 002 (Ma & Fattahi), robust l1 recovery: the regime of the truth (non-stationary, "
                       "saddle, not a local min, sharp local min) over (m, k, p), subgradient recovery rates",
          }


def run_study(name: str, out_dir: str, quick: bool = False, options=None) -> dict:
    """Run one study by name (see :data:`STUDIES`) into ``out_dir``."""
    from benign.errors import check_choice
    from benign.reproduce.common import RunOptions

    check_choice("study", name, STUDIES, " or all")
    module = importlib.import_module(STUDIES[name])
    return module.run(out_dir, quick=quick, options=options or RunOptions())
