"""The JAX-free table of methods and settings agrees with the solver classes it mirrors (the starts and the string
choices are defined in the table and imported by the solvers)."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from conftest import fresh_cli

from benign.solver_options import METHOD_BOUNDS, METHOD_OPTIONS, check_method_options
from benign.solvers import METHODS


def test_methods_match_the_solvers():
    assert list(METHOD_OPTIONS) == list(METHODS)
    assert METHOD_OPTIONS["gd"] == METHOD_OPTIONS["projected-gd"]  # the hunter's default is one of the two


@pytest.mark.parametrize("method", list(METHODS))
def test_settings_match_the_solver_fields(method):
    fields = {f.name: f.default for f in dataclasses.fields(METHODS[method])}
    table = METHOD_OPTIONS[method]
    assert list(table) == list(fields)
    for name, kind in table.items():
        default = fields[name]
        if isinstance(kind, tuple):
            assert default in kind
        elif default is not None:
            assert type(default) is kind or (kind is float and type(default) is int), (name, default, kind)


@pytest.mark.parametrize("method", list(METHODS))
def test_every_numeric_setting_has_a_range_and_the_defaults_lie_in_it(method):
    table, bounds = METHOD_OPTIONS[method], METHOD_BOUNDS[method]
    assert set(bounds) == {k for k, kind in table.items() if kind in (int, float)}
    defaults = {f.name: f.default for f in dataclasses.fields(METHODS[method])}
    check_method_options(method, {k: v for k, v in defaults.items() if v is not None})


@pytest.mark.parametrize("method,options,needle", [
    ("gd", {"step": -1.0}, "step must be > 0.0, got -1.0"),
    ("gd", {"step": float("nan")}, "step must be finite"),
    ("gd", {"c": 1.0}, "c must be < 1.0"),
    ("perturbed-gd", {"t_thres": 0}, "t_thres must be >= 1"),
    ("subgradient", {"q": 0.0}, "q must be > 0.0"),
    ("trust-region", {"eta": 0.25}, "eta must be < 0.25"),
    ("convex", {"feas_tol": 0.0}, "feas_tol must be > 0.0"),
])
def test_out_of_range_settings_are_refused_by_the_table_and_by_the_solvers(method, options, needle):
    """One definition of the ranges: the JAX-free check (command line, sweep specs) and the solver classes (which
    read it when resolving) refuse the same values."""
    from benign import instances as I
    from benign.objective import make_objective
    from benign.solvers import solve

    with pytest.raises(ValueError, match=f"setting {list(options)[0]} of method '{method}': {needle}"):
        check_method_options(method, options)
    obj = make_objective(I.build("sensing:n=4,r=1,m=30,seed=0"), "l1" if method == "subgradient" else "l2")
    solver = dataclasses.replace(METHODS[method](), **options)  # past the option check, straight to resolve
    with pytest.raises(ValueError, match=needle):
        solve(obj, solver, rank=1, seed=0, max_iter=5)


@pytest.mark.parametrize("method,options,error,needle", [
    ("gd", {"stpe": 0.1}, ValueError, "did you mean 'step'"),
    ("gd", {"step": "abc"}, TypeError, "expected a number"),
    ("gd", {"armijo": 1}, TypeError, "expected true or false"),
    ("gd", {"max_backtracks": 2.5}, TypeError, "expected an integer"),
    ("gd", {"max_backtracks": float("inf")}, TypeError, "expected an integer"),
    ("subgradient", {"schedule": "polyack"}, ValueError, "one of geometric, polyak"),
    ("gdd", {}, ValueError, "did you mean 'gd'"),
])
def test_bad_settings_are_named(method, options, error, needle):
    with pytest.raises(error, match=needle):
        check_method_options(method, options)


def test_good_settings_pass():
    good = {"step": 1, "armijo": True, "max_backtracks": 10.0, "c": np.float32(1e-4)}  # a whole float is an integer
    assert check_method_options("gd", good) == good


@pytest.mark.parametrize("argv", [
    ["solve", "sensing:n=5,r=1,m=20", "--max-iter", "-5"],
    ["solve", "sensing:n=5,r=1,m=20", "--history-every", "0"],
    ["solve", "sensing:n=5,r=1,m=20", "--opt", "step=abc"],
    ["solve", "sensing:n=5,r=1,m=20", "--opt", "stpe=1"],
    ["solve", "sensing:n=5,r=1,m=20", "--method", "gdd"],
    ["solve", "sensing:n=5,r=1,m=20", "--init", "spectal"],
    ["solve", "sensing:n=5,r=1,m=20", "--init-scale", "-1"],
    ["solve", "sensing:n=5,r=1,m=20", "--rank", "0"],
    ["hunt", "zsl-half", "--rank", "1", "--init", "rand"],
    ["hunt", "zsl-half", "--rank", "1", "--opt", "armijo=2"],
    ["solve", "sensing:n=5,r=1,m=20", "--opt", "step=-1"],
    ["solve", "sensing:n=5,r=1,m=20", "--opt", "step=nan"],
    ["solve", "sensing:n=5,r=1,m=20", "--method", "convex", "--opt", "max_dim=-1"],
])
def test_bad_solver_arguments_fail_before_importing_jax(argv):
    words, err = fresh_cli(*argv)
    assert words == ["2", "False"], (words, err)
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), err


@pytest.mark.parametrize("method,field", [("gd", "c"), ("trust-region", "eta"), ("scaled-gd", "damping"),
                                          ("subgradient", "q"), ("convex", "trace_weight")])
def test_none_only_for_problem_dependent_settings(method, field):
    """A configured solver with None in a setting that has a numeric default is refused (not run with NaN)."""
    solver = dataclasses.replace(METHODS[method](), **{field: None})
    with pytest.raises(TypeError, match=f"{field} must be a number, got None"):
        solver.setting(field)
    assert METHODS[method]().setting(field) is not None
    if method == "gd":
        assert METHODS[method]().setting("step") is None  # problem-dependent default


def test_gd_and_projected_gd_take_the_same_settings():
    """solve checks --opt against gd's settings before it knows whether the instance needs projected-gd."""
    from benign.solver_options import METHOD_OPTIONS

    assert METHOD_OPTIONS["gd"] == METHOD_OPTIONS["projected-gd"]


def test_a_setting_of_the_other_perturbation_rule_is_refused():
    """perturbed-gd reads sigma/threshold under rule=noise only, and g_thres/radius/t_thres/f_thres under rule=jin
    only: the other rule's setting would be silently unused, so it is an error naming the rule."""
    assert check_method_options("perturbed-gd", {"rule": "noise", "sigma": 1e-2, "threshold": 1e-3})
    with pytest.raises(ValueError, match="belongs to rule='noise'; this run uses rule='jin'"):
        check_method_options("perturbed-gd", {"sigma": 1.0})
    with pytest.raises(ValueError, match="radius=0.001 of method 'perturbed-gd' belongs to rule='jin'"):
        check_method_options("perturbed-gd", {"rule": "noise", "radius": 1e-3})
    assert check_method_options("perturbed-gd", {"sigma": 1e-3})  # the default: a result's options pass again
    from benign.solver_options import RULE_SETTINGS
    from benign.solvers import METHODS

    for method, (selector, default, rules) in RULE_SETTINGS.items():
        solver = METHODS[method]()
        assert getattr(solver, selector) == default, method
        for defaults in rules.values():
            for key, value in defaults.items():
                assert getattr(solver, key) == value, (method, key)


@pytest.mark.parametrize("method,options,needle", [
    ("gd", {"c": 0.3}, "c=0.3 of method 'gd' belongs to armijo=True; this run uses armijo=False"),
    ("projected-gd", {"shrink": 0.8}, "belongs to armijo=True"),
    ("subgradient", {"schedule": "polyak", "q": 0.9}, "q=0.9 of method 'subgradient' belongs to schedule='geometric'")])
def test_a_setting_of_the_other_step_rule_is_refused(method, options, needle):
    """gd's line-search settings do nothing with a fixed step, and the geometric schedule's do nothing with Polyak
    steps: refused like perturbed-gd's, while the defaults (what a result lists) and the rule's own settings pass."""
    with pytest.raises(ValueError, match=needle):
        check_method_options(method, options)
    assert check_method_options("gd", {"armijo": True, "c": 0.3})
    assert check_method_options("gd", {"c": 1e-4, "step": 0.1})
    assert check_method_options("subgradient", {"schedule": "polyak", "f_star": 1.0, "q": 0.98})


def test_f_star_without_polyak_steps_or_ftol_is_refused():
    """The subgradient method reads f_star in Polyak steps and in the ftol rule only: under the geometric schedule
    without ftol a value other than the default would be silently unused, so it is refused (Python and CLI alike)."""
    with pytest.raises(ValueError, match="f_star=1000000000.0 of method 'subgradient' is read by schedule='polyak' "
                                         "and by the ftol rule only; this run uses schedule='geometric' without ftol"):
        check_method_options("subgradient", {"f_star": 1e9})
    assert check_method_options("subgradient", {"f_star": 0.0})  # the default: a result's options pass again
    assert check_method_options("subgradient", {"f_star": -1.0, "ftol": 1e-3})
    assert check_method_options("subgradient", {"f_star": -1.0, "schedule": "polyak"})
    from benign.instances import build
    from benign.objective import make_objective
    from benign.solvers import solve

    with pytest.raises(ValueError, match="is read by schedule='polyak' and by the ftol rule only"):
        solve(make_objective(build("sensing:n=4,r=1,m=40,seed=0"), "l1"), "subgradient", f_star=0.5, max_iter=5)


def test_trust_region_radii_given_together_are_checked_before_any_work():
    """Both radii given: refused with the options; a max_radius below the problem-dependent default radius: the
    same rule when the solver resolves its settings."""
    with pytest.raises(ValueError, match="max_radius must be >= radius, got 0.5 < 1"):
        check_method_options("trust-region", {"radius": 1, "max_radius": 0.5})
    assert check_method_options("trust-region", {"radius": 1, "max_radius": 1})
    from benign.instances import build
    from benign.objective import make_objective
    from benign.solvers import solve

    with pytest.raises(ValueError, match=r"max_radius must be >= radius, got 1e-09 < 0\.\d+"):
        solve(make_objective(build("sensing:n=6,r=1,m=40,seed=0")), "trust-region", max_radius=1e-9)
