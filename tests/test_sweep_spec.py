"""Sweep specs: grid helpers, templates, seeds, keys, expressions, and bad specs failing before any trial runs."""
from __future__ import annotations

import itertools
import math
import os

import numpy as np
import pytest

from benign.experiments import load_spec, run_sweep, trial_key
from benign.experiments.expr import compile_expr

TOY = "sweep_toys:quad"


def toy(grid=None, trial=None, **sweep):
    return {"sweep": {"trial": TOY, "seeds": 2, **sweep}, "grid": grid or {"a": [1, 2], "n": 3},
            "trial": trial or {}}


def solve_spec(**over):
    spec = {"sweep": {"seeds": 2}, "grid": {"m": [20, 40], "rank": [1, 2]},
            "trial": {"instance": "sensing:n=5,r=1,m={m},seed={seed}", "loss": "l2", "method": "gd"},
            "metrics": {"success": "relative_error <= 1e-3"}}
    for table, values in over.items():
        spec[table] = {**spec.get(table, {}), **values}
    return spec


def test_grid_is_the_product_in_order_with_seeds_innermost(tmp_path):
    spec = load_spec(toy({"a": [3, 1, 2], "n": [4, 2]}, seeds={"start": 7, "count": 3}), db=str(tmp_path / "x.db"))
    expect = [(a, n, s) for a, n in itertools.product([3, 1, 2], [4, 2]) for s in (7, 8, 9)]
    assert [(t.point["a"], t.point["n"], t.seed) for t in spec.trials] == expect
    assert [t.index for t in spec.trials] == list(range(len(expect)))
    assert len({t.key for t in spec.trials}) == len(expect)
    assert spec.varying == ["a", "n"] and len(spec.points) == 6


def test_grid_helpers_match_numpy(tmp_path):
    spec = load_spec(toy({"a": {"range": [2, 11, 3]}, "n": 1, "x": {"linspace": [0.5, 2.0, 4]},
                          "y": {"geomspace": [1e-3, 10, 5]}, "z": {"linspace": [10, 100, 4], "int": True}}),
                     db=str(tmp_path / "x.db"))
    assert list(spec.grid["a"]) == list(range(2, 11, 3))
    np.testing.assert_allclose(spec.grid["x"], np.linspace(0.5, 2.0, 4), rtol=1e-15, atol=0)
    np.testing.assert_allclose(spec.grid["y"], np.geomspace(1e-3, 10, 5), rtol=1e-14, atol=0)
    assert spec.grid["y"][-1] == 10.0 and spec.grid["y"][0] == 1e-3
    assert list(spec.grid["z"]) == [10, 40, 70, 100] and all(isinstance(v, int) for v in spec.grid["z"])


def test_seed_forms(tmp_path):
    db = str(tmp_path / "x.db")
    assert load_spec(toy(seeds=3), db=db).seeds == (0, 1, 2)
    assert load_spec(toy(seeds=[5, 1]), db=db).seeds == (5, 1)
    assert load_spec(toy(seeds={"start": 4, "count": 2}), db=db).seeds == (4, 5)


def test_templates_keep_types_and_format(tmp_path):
    spec = load_spec(solve_spec(trial={"rank": "{rank}", "options": {"step": 0.1}}), db=str(tmp_path / "x.db"))
    t = spec.trials[-1]
    assert t.params["instance"] == f"sensing:n=5,r=1,m=40,seed={t.seed}"
    assert t.params["rank"] == 2 and isinstance(t.params["rank"], int)
    assert t.params["options"] == {"step": 0.1} and t.params["m"] == 40


def test_where_filters_grid_points(tmp_path):
    spec = load_spec(toy({"a": [1, 2, 3], "n": [1, 2, 3]}, where="n >= a and a != 2"), db=str(tmp_path / "x.db"))
    assert sorted({(t.point["a"], t.point["n"]) for t in spec.trials}) == [(1, 1), (1, 2), (1, 3), (3, 3)]


def test_default_db_sits_beside_the_spec(tmp_path):
    path = tmp_path / "my_sweep.toml"
    path.write_text('[sweep]\ntrial = "sweep_toys:quad"\n[grid]\na = [1]\nn = 2\n[trial]\n')
    spec = load_spec(str(path))
    assert spec.db == str(tmp_path / "my_sweep.db") and spec.name == "my_sweep"
    path.write_text('[sweep]\ntrial = "sweep_toys:quad"\ndb = "out/r.db"\n[grid]\na = [1]\nn = 2\n[trial]\n')
    assert load_spec(str(path)).db == str(tmp_path / "out" / "r.db")


def test_trial_table_may_be_left_out_when_the_grid_holds_every_parameter(tmp_path):
    path = tmp_path / "grid_only.toml"
    path.write_text('[sweep]\ntrial = "sweep_toys:quad"\n[grid]\na = [1, 2]\nn = 2\n')
    assert len(load_spec(str(path)).trials) == 2
    spec = solve_spec()
    del spec["trial"]
    with pytest.raises(ValueError, match="needs instance = ..."):  # a required key is still named
        load_spec(spec, db=str(tmp_path / "x.db"))


def test_trial_key_is_canonical_and_sensitive():
    k = trial_key("solve", {"a": 1, "b": "x"}, 3, "1.0")
    assert k == trial_key("solve", {"b": "x", "a": 1}, 3, "1.0")
    others = [trial_key("solve", {"a": 1, "b": "x"}, 4, "1.0"), trial_key("solve", {"a": 2, "b": "x"}, 3, "1.0"),
              trial_key("solve", {"a": 1, "b": "x"}, 3, "1.1"), trial_key("other", {"a": 1, "b": "x"}, 3, "1.0")]
    assert len({k, *others}) == 5 and len(k) == 32


# ------------------------------------------------------------------------------------------------ bad specs

BAD = [
    ({"sweeps": {}}, "unknown key 'sweeps' in the spec (did you mean 'sweep'?)"),
    ({"sweep": {"seed": 3}}, "did you mean 'seeds'?"),
    ({"sweep": {"seeds": 0}}, "seeds must be >= 1"),
    ({"sweep": {"seeds": [1, 1]}}, "duplicates"),
    ({"sweep": {"batch_size": 0}}, "batch_size must be an integer >= 1"),
    ({"sweep": {"batch": "yes"}}, "batch must be"),
    ({"sweep": {"trial": "solv"}}, "did you mean 'solve'?"),
    ({"sweep": {"where": "m > 1000"}}, "removes every grid point"),
    ({"sweep": {"where": "mm > 1"}}, "unknown name 'mm' (did you mean 'm'?)"),
    ({"grid": {"m": [20, 0]}}, "grid point {'m': 0, 'rank': 1}, seed 0: m must be >= 1"),
    ({"grid": {"seed": [1, 2]}}, "grid key 'seed' is reserved"),
    ({"grid": {"rank": [1, 1]}}, "duplicate values"),
    ({"grid": {"rank": {"linspace": [1, 2, 3], "int": True}}}, "duplicate values"),
    ({"grid": {"rank": {"linspac": [1, 2, 3]}}}, "did you mean 'linspace'?"),
    ({"grid": {"rank": {"range": [1.5, 3]}}}, "range takes 1 to 3 integers"),
    ({"grid": {"k": [1, 2]}}, "grid key 'k' is not used by [trial]"),
    ({"trial": {"instance": "sensing:n=5,r=1,m={mm},seed={seed}"}},
     "{mm}, which is not a grid key (did you mean 'm'?)"),
    ({"trial": {"instance": "sensing:n=5,r=1,m={m},sed={seed}"}}, "did you mean 'seed'?"),
    ({"trial": {"instance": "sensing:n=5,r=9,m={m}"}}, "larger than the dimension"),
    ({"trial": {"loss": "lp:l=3"}}, "l must be an even integer"),
    ({"trial": {"loss": "huberr"}}, "did you mean 'huber'?"),
    ({"trial": {"methd": "gd"}}, "unknown key 'methd' in [trial] (kind 'solve') (did you mean 'method'?)"),
    ({"trial": {"rank": 2}}, "'rank' is set in both [grid] and [trial]"),
    ({"trial": {"max_iter": -1}}, "max_iter must be >= 0"),
    ({"metrics": {"success": "relative_eror <= 1e-3"}},
     "unknown name 'relative_eror' (did you mean 'relative_error'?)"),
    ({"metrics": {"success": "__import__('os')"}}, "unknown function '__import__'"),
    ({"metrics": {"success": "relative_error.real < 1"}}, "Attribute is not allowed"),
    ({"metrics": {"m": "loss < 1"}}, "clashes with a grid key"),
    ({"report": {"x": "mm"}}, "[report] x = 'mm' is not a grid key (did you mean 'm'?)"),
    ({"report": {"x": "m", "y": "m"}}, "[report] x and y are both 'm'"),
    ({"report": {"convergence": "lossy"}}, "convergence = 'lossy' is not a history the trial records (did you mean"),
    ({"report": {"convergence": "loss"}}, "reads 'history_loss', which 'solve' trials record only with history set"),
    ({"metrics": {"spur": "spurious == True"}}, "[metrics] spur reads 'spurious', which 'solve' trials record only "
                                                "with certify set"),
    ({"trial": {"init": "randm"}}, "unknown init 'randm' (did you mean 'random'?)"),
    ({"trial": {"factorization": "asym"}}, "unknown factorization 'asym'"),
    ({"trial": {"options": {"rtol": -1}}}, "options.rtol must be >= 0"),
    ({"trial": {"certify_options": {"ftol": 1e-3}}}, "[trial] certify_options has no effect unless certify is set"),
    ({"trial": {"certify": True, "certify_options": {"bogus": 1}}}, "unknown setting 'bogus' for the smooth"),
    ({"trial": {"certify": True, "certify_options": {"ftol": 2.0}}}, "certify_options.ftol must be <= 0.01, got 2.0"),
    ({"sweep": {"description": 5}}, "[sweep] description must be a string"),
    ({"report": {"metrics": ["succes"]}}, "'succes' is not a [metrics] name (did you mean 'success'?)"),
    ({"metrics": {"first": "second and m > 1", "second": "relative_error <= 1e-3"}},
     "uses 'second', a metric defined after it"),
    ({"metrics": {"success": "1 / 0"}}, "cannot be evaluated: ZeroDivisionError"),
    ({"grid": {"m": {"range": [1, 2_000_000]}}}, "grid 'm' would have 1,999,999 values, more than 100,000"),
    ({"sweep": {"seeds": 600_000}}, "would have 2,400,000 trials (2 m x 2 rank x 600000 seeds"),
    ({"sweep": {"where": "log(m - 30) > 0"}}, "where 'log(m - 30) > 0' cannot be evaluated at grid point {'m': 20"),
    ({"sweep": {"where": "1 / 0"}}, "[sweep] where = '1 / 0' cannot be evaluated: ZeroDivisionError"),
    ({"sweep": {"where": "m + 1e309 - 1e309"}}, "gives NaN at grid point {'m': 20"),
    ({"grid": {"m": [20, 20.0]}}, "values that compare equal, 20 and 20.0"),
]


def test_a_failed_spec_leaves_nothing_for_the_next():
    """The solver check deferred until every trial passed the fast ones belongs to its own spec: a refused spec
    leaves nothing behind that would refuse the next, valid one."""
    bad = solve_spec(grid={"method": ["gd", "projected-gd"]}, trial={"options": {"armijo": None}})
    with pytest.raises((ValueError, TypeError)):
        load_spec(bad, db="never.db")
    good = solve_spec()
    assert len(load_spec(good, db="never.db").trials) == 8


@pytest.mark.parametrize("over,needle", BAD, ids=[b[1][:40] for b in BAD])
def test_bad_spec_fails_before_any_trial_runs(tmp_path, over, needle):
    db = tmp_path / "never.db"
    spec = solve_spec(**over)
    with pytest.raises((ValueError, TypeError)) as err:
        run_sweep(spec, db=str(db))
    assert needle in str(err.value), str(err.value)
    assert not db.exists()


def test_bad_toml_file(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text("[sweep\nseeds = 2\n")
    with pytest.raises(ValueError, match="cannot read sweep spec"):
        load_spec(str(path))
    with pytest.raises(ValueError, match="does not exist"):
        load_spec(str(tmp_path / "missing.toml"))


# ------------------------------------------------------------------------------------------------ expressions

@pytest.mark.parametrize("text", ["a + b * 2 - c / 4", "a ** 2 % 3 + b // 2", "(a < b) and not (c >= 2)",
                                  "abs(-a) + max(a, b, c) - min(b, c)", "sqrt(c) * log10(b) + exp(-a)",
                                  "a if b > c else c", "1 < a <= 3 < c", "s in ('x', 'y')", "s not in ['x']"])
def test_expressions_agree_with_python(text):
    env = {"a": 1.5, "b": 7, "c": 4.0, "s": "y"}
    ex = compile_expr(text)
    ref = eval(text, {"abs": abs, "max": max, "min": min, "sqrt": math.sqrt, "log10": math.log10,
                      "exp": math.exp}, dict(env))
    assert ex(env) == ref


def test_expressions_missing_values_and_nan():
    ex = compile_expr("err <= 1e-3")
    assert ex({"err": float("nan")}) is False
    assert ex({"err": None}) is None and ex({}) is None
    assert ex({"err": 1e-4}) is True
    assert math.isnan(compile_expr("log(x)")({"x": -1.0}))


@pytest.mark.parametrize("text,needle", [("x.__class__", "Attribute is not allowed"),
                                         ("x[0]", "Subscript is not allowed"), ("lambda: 1", "Lambda is not allowed"),
                                         ("[i for i in x]", "ListComp is not allowed"),
                                         ("open('f')", "unknown function 'open'"),
                                         ("np.log(x)", "unknown function 'np.log'"),
                                         ("max(x, key=abs)", r"max\(\) takes no keyword arguments"),
                                         ("x = 1", "not a valid expression"), ("f'{x}'", "JoinedStr is not allowed")])
def test_expressions_reject_anything_but_arithmetic(text, needle):
    with pytest.raises(ValueError, match=needle):
        compile_expr(text)


def test_spec_file_names_failing_grid_point(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text('[sweep]\nseeds = 1\n[grid]\nn = [6, 8]\nrate = [0.5, 1.5]\n[trial]\n'
                    'instance = "completion:n={n},r=1,rate={rate},seed={seed}"\nmethod = "gd"\n'
                    '[metrics]\nok = "n > 0"\n')
    with pytest.raises(ValueError, match=r"grid point \{'n': 6, 'rate': 1.5\}, seed 0: rate must lie in"):
        load_spec(str(path))
    assert not os.path.exists(tmp_path / "s.db")


def test_the_documented_spec_loads(tmp_path):
    """The annotated spec of docs/sweeps.md is a working spec (one seed here, to keep the expansion short)."""
    import re
    import tomllib

    here = os.path.dirname(os.path.abspath(__file__))
    text = open(os.path.join(os.path.dirname(here), "docs", "sweeps.md")).read()
    block = re.search(r"## The spec file\n\n```toml\n(.*?)```", text, re.S).group(1)
    data = tomllib.loads(block)
    data["sweep"]["seeds"] = 1
    data["sweep"]["db"] = str(tmp_path / "doc.db")
    spec = load_spec(data)
    assert len(spec.trials) == 28 * 3 * 3 * 2 and spec.report["metrics"] == ["success"]
    t = spec.trials[-1]
    assert isinstance(t.params["max_iter"], int) and "sigma=0.1" in t.params["instance"]


def test_certify_options_with_certify_on_some_grid_points(tmp_path):
    """certify as a grid key: certify_options serve the points that certify (the others ignore them), and loop
    settings left to their defaults (None where solve takes it) load."""
    spec = solve_spec(grid={"m": [20, 30], "certify": [True, False]},
                      trial={"instance": "sensing:n=5,r=1,m={m},seed={seed}", "certify": "{certify}",
                             "certify_options": {"ftol": 1e-8}, "options": {"rtol": None}})
    assert len(load_spec(spec, db=str(tmp_path / "x.db")).trials) == 2 * 2 * 2 * 2  # m, rank, certify, seeds
    bad = solve_spec(trial={"instance": "sensing:n=5,r=1,m={m},seed={seed}", "options": {"history_every": None}})
    with pytest.raises(TypeError, match="options.history_every"):
        load_spec(bad, db=str(tmp_path / "y.db"))
