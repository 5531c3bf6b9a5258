"""Reproduction studies: report builder, study dispatch, and one published number recomputed end to end."""
from __future__ import annotations

import pytest

from benign.reproduce import run_study
from benign.reproduce.report import Report, fmt


def test_report_builder(tmp_path):
    rep = Report("T", str(tmp_path))
    rep.table(["a", "b"], [[1, 0.5], [None, True]])
    path = rep.write()
    text = open(path).read()
    assert "| a | b |" in text and "| — | yes |" in text
    assert fmt(1.23456e-7) == "1.235e-07"


def test_unknown_study():
    with pytest.raises(ValueError, match="did you mean 'robust-l1'"):
        run_study("robust-l2", "/nonexistent")


def test_reproduce_list_names_every_study():
    """``benign reproduce list`` says what each study reproduces, one entry per study, without running anything."""
    import json
    import subprocess
    import sys

    from benign.reproduce import STUDIES

    out = subprocess.run([sys.executable, "-m", "benign.cli", "reproduce", "list", "--json"], capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    titles = json.loads(out.stdout)
    assert list(titles) == list(STUDIES) and all("seed 00" in t for t in titles.values())


def test_high_order_table_trial_matches_published_row():
    from benign.certify.published import SEED001_TABLE
    from benign.reproduce.high_order import table_trial

    out = table_trial({"n": 3, "eps": 0.3, "lams": [0.0, 0.5]}, 0)
    for j, lam in enumerate((0.0, 0.5)):
        pub = next(row for row in SEED001_TABLE if row[0] == 3 and row[1] == lam)
        got = (out["lmin_hat"][j], out["lmax_hat"][j], out["lmin_star"][j], out["lmax_star"][j])
        assert max(abs(a - b) for a, b in zip(got, pub[2:])) <= 0.01
    assert out["verdict_hat"] == "strict_local_min,strict_local_min"
    assert out["verdict_star"] == "global_min,global_min"
