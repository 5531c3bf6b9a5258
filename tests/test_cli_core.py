"""CLI: instance / info, JSON output, one-line errors, no heavy imports at start-up."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from conftest import fresh_cli

BENIGN = [sys.executable, "-m", "benign.cli"]
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # the repository (README, examples)


def run(*args):
    return subprocess.run(BENIGN + list(args), capture_output=True, text=True, timeout=120)


def test_help_does_not_import_heavy_modules():
    code = ("import sys, benign.cli; heavy = [m for m in ('jax', 'cvxpy', 'dask', 'matplotlib', 'scipy') "
            "if m in sys.modules]; print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr


def test_instance_save_and_info(tmp_path, cli):
    path = tmp_path / "inst.npz"
    res = cli("instance", "sensing:n=6,r=2,m=40,seed=0", "--save", str(path), "--json")
    assert res.returncode == 0, res.stderr
    info = json.loads(res.stdout)
    assert info["m"] == 40 and info["rank"] == 2 and path.exists()
    res = cli("info", str(path), "--json")
    assert res.returncode == 0, res.stderr
    info = json.loads(res.stdout)
    assert info["n"] == 6 and info["operator"] == "gaussian" and info["rip"]["available"]
    assert 0 <= info["rip"]["delta_scaled"] <= info["rip"]["delta"] + 1e-12
    # m = 40 > n(n+1)/2 = 21: no null space, no note; m = 15 < 21: the note explains delta >= 1
    assert "note" not in info["rip"]
    small = json.loads(cli("info", "sensing:n=6,r=2,m=15,seed=0", "--json").stdout)["rip"]
    assert small["delta"] >= 1 and "dimension 21" in small["note"] and "--rank 4" in small["note"]
    human = cli("info", "sensing:n=6,r=2,m=15,seed=0")  # nested results as indented key: value lines
    assert "\nrip:\n  available: True\n" in human.stdout, human.stdout
    # n = 120 (dimension 7260) with m = 50: the 50 x 50 Gram matrix of the measurements gives it exactly
    wide = json.loads(cli("info", "sensing:n=120,r=2,m=50,seed=0", "--json").stdout)["rip"]
    assert wide["available"] and "Gram matrix of the measurements (50 x 50)" in wide["method"]
    assert wide["lambda_min"] == 0.0 and "dimension 7260" in wide["note"]
    big = json.loads(cli("info", "sensing:n=60,r=2,m=2000,seed=0", "--json").stdout)["rip"]
    assert not big["available"] and "use `benign rip`" in big["reason"]


@pytest.mark.parametrize("args,needle", [
    (("instance", "sensing:n=5,r=9,m=30"), "larger than the dimension"),
    (("instance", "sensing:n=5,r=1,m=30,sed=1"), "did you mean 'seed'"),
    (("info", "nowhere/file.npz"), "does not exist"),
    (("counterexample", "--nonneg-family", "0.5", "--x", "1,0"), "not both"),
    (("counterexample", "--nonneg-family", "0.1", "--margin", "0.5"), "--margin 0.5 applies to --x/--z only"),
    (("counterexample", "--nonneg-family", "0.1", "--variant", "span"), "--variant span applies"),
    (("hunt", "zsl-half", "--rank", "1", "--dedupe-rtol", "0"), "dedupe-rtol"),
    (("hunt", "zsl-half", "--rank", "1", "--max-iter", "-1"), "max-iter"),
    (("hunt", "zsl-half", "--rank", "1", "--gtol", "nan"), "gtol"),
    (("instance", "zsl-half", "--save", "out.txt"), "give a name ending in .npz"),
    (("landscape", "yalcin:n=3,eps=0.3", "--point", "1,0,1", "--dir1", "truth"), "--dir1 'truth' is the zero"),
    (("landscape", "zsl-half", "--point", "0,1", "--dir1", "0,0"), "--dir1 is the zero direction"),
    (("solve", "sensing:n=5,r=1,m=20", "--nonneg"), "--constraint nonneg"),
    (("instance", "zsl-half", "--save", "new-folder/"), "needs a file name"),
    (("info", "examples"), "instance file 'examples' is a folder, not a file"),
    (("sweep", "run", "examples/gd_success.toml", "--workers", "100000", "--db", "never-written.db"),
     "(4 per usable CPU)"),
    (("instance", "completion:n=10000000000,r=100,rate=1e-18"), "a ground-truth factor of 10000000000 x 100 needs"),
    (("instance", "yalcin:n=1000000,eps=0.3"), "observing all n^2 = 1000000000000 entries"),
    (("counterexample", "--x", "0,0.7", "--z", "1,0", "--nonneg", "--method", "reduced"), "--method reduced does not"),
    (("certify", "zsl-half", "--point", "0,1", "--export", "c.txt"), "give a name ending in .json, got 'c.txt'"),
    (("counterexample", "--nonneg-family", "0.1", "--margin", "0.5", "--method", "direct"),
     "--margin 0.5, --method direct apply to --x/--z only"),
])
def test_bad_input_one_line_error(args, needle):
    res = run(*args)
    assert res.returncode == 2
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and needle in lines[0] and lines[0].startswith("error:")


@pytest.mark.parametrize("argv,needle", [
    (['certify', 'zsl-half', '--loss', 'l3', '--point', '0,1'], "unknown loss 'l3' (did you mean 'lp'?); choose"),
    (['solve', 'sensing:n=5,r=9,m=3'], 'rank r = 9 is larger than the dimension 5'),
    (['hunt', 'zsl-half', '--rank', '0'], '--rank must be >= 1, got 0'),
    (['landscape', 'zsl-half', '--loss', 'lp:l=3', '--point', '0,1', '--dir1', '1,0'],
     'l must be an even integer, got 3'),
    (['solve', 'sensing:n=5,r=1,m=20', '--seed', '-1'], '--seed must be >= 0, got -1'),
    (['instance', 'sensing:n=5,r=1,m=20,seed=-3'], 'seed must lie in [0, 9223372036854775807], got -3'),
    (['hunt', 'zsl-half', '--rank', '1', '--seed', '-1'], '--seed must be >= 0, got -1'),
    (['certify', 'zsl-half', '--point', '1,a'], "cannot read point '1,a': expected numbers like"),
    (['landscape', 'yalcin:n=7,eps=0.3', '--point', '1;a'], "cannot read point '1;a': expected numbers like"),
    (['landscape', 'yalcin:n=7,eps=0.3'], 'a point is required: --point FILE or --point'),
    (['certify', 'zsl-half', '--point', '1,0,1'], '--point must have 2 rows (n) for zsl-half, got'),
    (['certify', 'sensing:n=4,d2=3,r=1,m=20', '--point', '1,0,1,1'], '--point must have 7 rows (d1 + d2) for'),
    (['certify', 'sensing:n=4,r=1,m=20', '--point', '1,0,1,1', '--factorization', 'asymmetric'],
     '--point must have 8 rows (d1 + d2) for'),
    (['landscape', 'yalcin:n=7,eps=0.3', '--point', '1,0;0,1', '--dir1', 'truth'], '--point must have 7 rows (n) for'),
    (['instance', 'sensing:n=100000,r=2,m=100000'], 'dense Gaussian sensing with m = 100000 matrices'),
    (['info', os.path.join(ROOT, 'README.md')], 'is not a benign instance file (not a .npz archive'),
    (['rip', 'sensing:n=5,r=1,m=30', '--rank', '6'], '--rank must be <= 5 for this instance, got 6'),
    (['counterexample', '--x', '0,0.7071', '--z', '1,0,0'], '--x and --z must have the same number of rows n,'),
    (['landscape', 'zsl-half', '--point', '0,1', '--dir1', 'trth'], "cannot read 'trth': not a file; expected numbers"),
    (['certify', 'zsl-half', '--point', 'truth:r=x'], "bad point 'truth:r=x': expected 'truth' or"),
    (['certify', 'zsl-half', '--point', '0,1', '--factorization', 'foo'],
     '--factorization must be symmetric or asymmetric,'),
    (['certify', 'zsl-half', '--point', '0,1', '--opt', 'fool=1'], "unknown setting 'fool' for any certificate (did"),
    (['certify', 'zsl-half', '--point', '0,1', '--opt', 'gtol=1e-3'], "--opt gtol: use --gtol (a setting of certify"),
    (['solve', 'zsl-half', '--history', '-'], "--history '-': this output is written as a file"),
    (['solve', 'zsl-half', '--save', '-'], "--save '-': this output is written as a file"),
    (['certify', 'zsl-half', '--point', '0,1', '--opt', 'verify=0'], "--opt verify: use --no-verify"),
    (['certify', 'zsl-half', '--point', '0,1', '--opt', 'seed=-1'], '--opt seed must be >= 0, got -1'),
    (['certify', 'zsl-half', '--point', '0,1', '--loss', 'l1', '--opt', 'tol=-1'], '--opt tol must be > 0.0, got -1.0'),
    (['certify', 'zsl-half', '--point', '0,1', '--opt', 'ftol=2'], '--opt ftol must be <= 0.01, got 2.0'),
    (['landscape', 'zsl-half', '--point', '0,1', '--dir1', '1,0,0'], "--dir1 must have the point's shape (2, 1), got"),
    (['hunt', 'zsl-half', '--rank', '1', '--method', 'trust-region', '--loss', 'l1'], '--method trust-region needs a'),
    (['hunt', 'sensing:n=5,r=1,m=20,truth=nonneg', '--rank', '1', '--method', 'gd'],
     '--method gd ignores the constraint X >= 0 of this'),
    (['counterexample', '--x', '1,0', '--z', '1,0'], 'X X^T equals Z Z^T: X is a global minimum, not a'),
    (['landscape', 'seed001', '--point', '1,2', '--dir1', 'truth'], "--point, --dir1 do not apply to 'seed001' (seed"),
    (['landscape', 'zsl-half', '--point', '0,1', '--dir1', '1,0', '--lams', '1'],
     '--lams does not apply here: --lams, --n and --eps'),
    (['counterexample', '--x', '0,0.7', '--z', '1,0', '--margin', 'nan'], '--margin must be finite, got nan'),
    (['certify', 'sensing:n=5,r=1,m=20', '--point', 'truth', '--opt', 'xtol=1'], '--opt xtol must be <= 0.01, got 1.0'),
    (['certify', 'sensing:n=5,r=1,m=20', '--loss', 'l1', '--point', 'truth', '--opt', 'ftol=1'],
     '--opt ftol must be <= 0.01, got 1.0'),
    (['certify', 'sensing:n=5,r=1,m=20,truth=nonneg', '--point', 'truth', '--opt', 'tol=1'],
     '--opt tol must be <= 0.01, got 1.0'),
    (['certify', 'sensing:n=31,r=1,m=20', '--point', 'truth', '--theory'],
     '--theory needs n <= 30 (it computes the exact'),
    (['certify', 'sensing:n=5,r=1,m=20,asym=1', '--point', 'truth', '--theory'],
     '--theory applies to symmetric problems (the'),
    (['solve', 'sensing:n=5,r=1,m=20,noise=gaussian,sigma=1e200'], 'sigma = 1e+200 is too large: the loss or its'),
    (['solve', 'sensing:n=4,r=1,m=30', '--rank', '10000000'], 'search rank 10000000 needs at least'),
    (['hunt', 'yalcin:n=3,eps=0.3', '--rank', '10000000', '--starts', '2'],
     'search rank 10000000 needs at least'),
    (['certify', 'zsl-half', '--point', 'truth:r=10000000'], 'search rank 10000000 needs at least'),
    (['solve', 'zsl-half', '--gtol', '2'], '--gtol must be < 1.0, got 2.0'),
    (['solve', 'zsl-half', '--opt', 'rtol=1e-6'], '--opt rtol: use --rtol (a setting of the loop,'),
    (['solve', 'zsl-half', '--opt', 'stall_window=-1'], '--opt stall_window must be >= 0, got -1'),
    (['solve', 'zsl-half', '--init', 'spectral', '--init-scale', '0.1'],
     '--init-scale applies to the random and small'),
    (['solve', 'zsl-half', '--x0', '1,0', '--init', 'small'], '--init would be ignored: --x0 gives the start'),
    (['hunt', 'zsl-half', '--rank', '1', '--dedupe-rtol', '100'], '--dedupe-rtol must be < 1.0, got 100.0'),
    (['certify', 'zsl-half', '--point', 'truth', '--balance', '1'], '--balance 1 applies to the asymmetric'),
    (['certify', 'sensing:n=4,r=1,m=30', '--point', 'truth', '--loss', 'l1', '--nonneg'],
     'the l1 certifier does not handle the constraint X'),
    (['certify', 'sensing:n=4,r=1,m=30', '--point', 'truth', '--loss', 'l1', '--gtol', '1e-4'],
     'the l1 certifier does not take --gtol 0.0001: its'),
    (['certify', 'zsl-half', '--point', 'truth', '--gtol', '0.5'], '--gtol must be <= 0.01, got 0.5'),
    (['solve', 'zsl-half', '--save', '/dev/null'], "--save '/dev/null' is a device or a pipe, not a"),
    (['counterexample', '--x', '0,0.7', '--z', '1e200,0'], 'Z Z^T overflows float64 (largest |entry| of Z'),
    (['reproduce', 'list', '--quick'], "'reproduce list' runs nothing: --quick would be"),
    (['reproduce', 'all', '--scheduler', 'foo'], '--scheduler must be an address such as'),
    (['reproduce', 'all', '--scheduler', 'tcp://127.0.0.1:1'],  # (nothing listens)
     'cannot connect to the Dask scheduler at'),
    (['reproduce', 'all', '--scheduler', '127.0.0.1:70000'], "--scheduler '127.0.0.1:70000': the port must be"),
    (['sweep', 'run', os.path.join(ROOT, 'examples', 'gd_success.toml'), '--workers', '1000'],
     '--workers = 1000: the embedded cluster starts one'),
    (['solve', 'sensing:n=4,r=1,m=10,tscale=1e-320'], 'tscale = 9.99989e-321 is too small: M* = tscale^2'),
    (['solve', 'sensing:n=4,r=1,m=10,noise=gaussian,sigma=1e-400'], 'sigma = 1e-400 underflows float64 to 0 (the'),
    (['landscape', 'sensing:n=4,r=1,m=30', '--point', 'truth', '--dir1', 'truth', '--loss', 'l1'],
     'the l1 loss has no Hessian (psi(t) = |t| is not'),
    (['landscape', 'sensing:n=30,r=1,m=300', '--point', 'truth:r=20', '--dir1', 'truth'],
     'lambda_min maps need N*r <= 400 (one dense'),
    (['landscape', 'zsl-half', '--point', '0,1', '--dir1', '1,0', '--dir2', '0,1', '--grid', '10000'],
     'the grid has 100,000,000 points, more than'),
    (['landscape', 'seed001', '--eps', '2'], '--eps must be <= 1.0, got 2.0'),
    (['landscape', 'seed001', '--n', '100000'], "seed 001's lambda_min maps need --n <= 400 (one"),
    (['rip', 'sensing:n=10,r=1,m=50', '-k', '1', '--starts', '100000000000'],
     '100000000000 search starts (rank 1, 10 x 10, m ='),
    (['rip', 'completion:n=10,r=1,rate=0.5', '-k', '1', '--directions', '100000000000'],
     '100000000000 random rank-k directions (rank 1, 10'),
    (['solve', 'sensing:n=40,r=1,m=50', '--method', 'convex'], 'the convex baseline is for small problems:'),
    (['solve', 'zsl-half', '--method', 'convex', '--seed', '3'], '--method convex would ignore --seed (it solves'),
    (['solve', 'zsl-half', '--method', 'trust-region', '--opt', 'radius=1', '--opt', 'max_radius=0.5'],
     'max_radius must be >= radius, got 0.5 < 1'),
    (['solve', 'zsl-half', '--method', 'subgradient', '--loss', 'l1', '--opt', 'f_star=2'],
     "f_star=2 of method 'subgradient' is read by schedule='polyak'"),
    (['certify', 'sensing:n=4,r=1,m=40', '--nonneg', '--point', '-1,0,0,0'],
     'point must be elementwise nonnegative (the objective has the constraint X >= 0), got min -1 at index (0, 0)'),
    (['certify', 'sensing:n=4,r=1,m=40,truth=nonneg', '--point', '0,-2,0,0'], 'got min -2 at index (1, 0)'),
])
def test_bad_input_fails_before_importing_jax(argv, needle):
    """Each refusal comes before JAX loads (exit 2, nothing on stdout) and is the one the case is about."""
    words, err = fresh_cli(*argv)
    assert words == ["2", "False"] and needle in err, (words, err)


def test_certifier_settings_table_matches_the_certifiers():
    """The JAX-free table the CLI checks --opt against lists exactly each certifier's own keyword settings."""
    import inspect

    from benign.certify.core import COMMON_SETTINGS
    from benign.certify.l1 import certify_l1
    from benign.certify.nonneg import certify_nonneg
    from benign.certify.smooth import certify_smooth
    from benign.certify_settings import CERTIFIER_SETTINGS

    for kind, fn in (("smooth", certify_smooth), ("nonnegative", certify_nonneg), ("l1", certify_l1)):
        params = inspect.signature(fn).parameters
        own = {n for n, p in params.items() if p.kind == p.KEYWORD_ONLY and n not in COMMON_SETTINGS + ("instance",)}
        assert set(CERTIFIER_SETTINGS[kind]) == own, kind


def test_every_certifier_setting_has_a_value_rule():
    """Every setting a certifier or certify takes has its rule (method: checked by its own choice list), so that a
    new setting cannot pass the early checks unchecked."""
    from benign.certify_settings import (CERTIFIER_SETTINGS, COMMON_SETTINGS, SETTING_RULES,
                                         check_certify_setting)

    names = {n for names in CERTIFIER_SETTINGS.values() for n in names} | set(COMMON_SETTINGS)
    assert names - {"method"} <= set(SETTING_RULES)
    with pytest.raises(KeyError):
        check_certify_setting("no_such_setting", 1.0)


@pytest.mark.parametrize("argv", [
    ["instance", "sensing:n=5,r=1,m=20", "--save", "{bad}/x.npz"],
    ["solve", "sensing:n=5,r=1,m=20", "--save", "{bad}/x.npz"],
    ["solve", "sensing:n=5,r=1,m=20", "--history", "{bad}/h.csv"],
    ["certify", "zsl-half", "--point", "0,1", "--export", "{bad}/c.json"],
    ["landscape", "zsl-half", "--point", "0,1", "--dir1", "1,0", "--out", "{bad}/s.png"],
    ["landscape", "zsl-half", "--point", "0,1", "--dir1", "1,0", "--out", "{tmp}/s.bmpx"],
    ["counterexample", "--x", "0,0.7", "--z", "1,0", "--save", "{bad}/cx.npz"],
    ["hunt", "zsl-half", "--rank", "1", "--save-dir", "{bad}/d"],
    ["reproduce", "high-order-loss", "--quick", "--out", "{bad}/rep"],
    ["sweep", "report", "examples/gd_success.toml", "--out", "{bad}/rep"],
    ["sweep", "run", "examples/gd_success.toml", "--db", "{bad}/x.db"],
    ["solve", "sensing:n=5,r=1,m=20", "--save", "{tmp}"],  # an existing folder where a file is expected
])
def test_unwritable_output_fails_first_in_one_line(argv, tmp_path):
    """An output that cannot be written (below a regular file, a folder in place of a file, an unknown figure
    format) is a one-line error with status 2, raised before any work (JAX is never imported)."""
    blocker = tmp_path / "plain-file"
    blocker.write_text("")
    argv = [a.format(bad=blocker, tmp=tmp_path) for a in argv]
    words, err = fresh_cli(*argv)
    assert words == ["2", "False"], (words, err)
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:") and "--" in lines[0], out.stderr


@pytest.mark.parametrize("args,needle", [
    (("rip", "zsl-half"), "Missing option '--rank'"),
    (("sweep", "run", "examples/gd_success.toml", "--workers", "-1"), "'--workers'"),
    (("nosuchcmd",), "No such command"),
])
def test_usage_errors_are_one_line_with_status_2(args, needle):
    res = run(*args)
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert res.returncode == 2 and len(lines) == 1 and lines[0].startswith("error:") and needle in lines[0], \
        res.stderr
    assert "--help" in lines[0]


@pytest.mark.parametrize("argv,needle", [
    (["solve", "sensing:n=5,r=1,m=20", "--max-iter", "1e9"], "got '1e9'"),
    (["certify", "zsl-half", "--point", "nan,0"], "contains a non-finite value"),
])
def test_error_lines_name_the_value(argv, needle):
    out = run(*argv)
    assert out.returncode == 2 and needle in out.stderr and out.stderr.count("\n") == 1, out.stderr


def test_version_is_fast_and_matches_the_package():
    import benign

    out = run("--version")
    assert out.returncode == 0 and out.stdout.strip() == f"benign {benign.__version__}", out.stdout + out.stderr


@pytest.mark.skipif(not __import__("os").path.isdir("/proc"), reason="needs a folder that refuses new files: /proc")
@pytest.mark.parametrize("option", ["--save", "--history"])
def test_a_folder_that_refuses_files_is_found_before_the_work(option):
    """A folder that refuses new files even to root (where ``os.access`` says yes), here /proc, is found by
    creating a scratch file there first: the run does not compute and then lose its result."""
    out = run("solve", "sensing:n=5,r=1,m=20", option, "/proc/benign-test-output")
    assert out.returncode == 2 and "refuses new files" in out.stderr and out.stderr.count("\n") == 1, out.stderr


def test_ctrl_c_reports_and_exits_130(monkeypatch, capsys):
    """Typer turns Ctrl-C inside a command into a returned exit code (130) outside standalone mode; the entry point
    must report it and exit with it, not exit 0 as if the command had finished."""
    import benign.cli
    import benign.cli.core
    from benign.cli import main

    def interrupted(spec):
        raise KeyboardInterrupt

    left = []
    monkeypatch.setattr(benign.cli, "_leave_now", lambda code: (left.append(code), sys.exit(code)))
    monkeypatch.setattr(benign.cli.core, "load_instance_arg", interrupted)
    monkeypatch.setattr(sys, "argv", ["benign", "instance", "zsl-half"])
    with pytest.raises(SystemExit) as exc:
        main()
    assert exc.value.code == 130
    assert capsys.readouterr().err.strip() == "interrupted"
    monkeypatch.setattr(sys, "argv", ["benign", "instance", "zsl-half", "--json"])  # a JSON reader gets JSON
    with pytest.raises(SystemExit) as exc:
        main()
    out = capsys.readouterr()
    assert exc.value.code == 130 and json.loads(out.out) == {"error": "interrupted", "exit_code": 130}
    assert left == [130, 130]  # the hard exit (no interpreter teardown under a running computation)


def test_json_errors_are_json_on_stdout_too(monkeypatch, capsys):
    """With --json a bad input is still one line on stderr and exit 2, and stdout holds the same message as JSON."""
    from benign.cli import main

    monkeypatch.setattr(sys, "argv", ["benign", "certify", "zsl-half", "--point", "0,1,2", "--json"])
    with pytest.raises(SystemExit) as exc:
        main()
    out = capsys.readouterr()
    message = "--point must have 2 rows (n) for zsl-half, got shape (3, 1)"
    assert exc.value.code == 2 and out.err.strip() == f"error: {message}"
    assert json.loads(out.out) == {"error": message, "exit_code": 2}
    monkeypatch.setattr(sys, "argv", ["benign", "certify", "zsl-half", "--point", "0,1,2"])  # without: stdout empty
    with pytest.raises(SystemExit):
        main()
    assert capsys.readouterr().out == ""
    monkeypatch.setattr(sys, "argv", ["benign", "certify", "zsl-half", "--point", "--json"])  # a value, not the flag
    with pytest.raises(SystemExit) as exc:
        main()
    out = capsys.readouterr()
    assert exc.value.code == 2 and out.out == "" and "cannot read point '--json'" in out.err


def test_a_stdout_output_with_json_is_refused(tmp_path):
    """With --json, stdout holds one JSON object: --export or --history naming stdout is refused (exit 2, one
    object), and without --json the record goes to stdout as documented."""
    res = subprocess.run(BENIGN + ["certify", "zsl-half", "--point", "0,0.7071067811865476", "--export", "/dev/stdout",
                                   "--json"], capture_output=True, text=True, timeout=120)
    assert res.returncode == 2 and json.loads(res.stdout)["error"].startswith("--export '/dev/stdout' is standard")
    out = tmp_path / "out.json"  # stdout redirected to a file, and the same file named: the same refusal
    with open(out, "w") as fh:
        res = subprocess.run(BENIGN + ["solve", "zsl-half", "--history", str(out), "--json", "--max-iter", "3"],
                             stdout=fh, stderr=subprocess.PIPE, text=True, timeout=120)
    assert res.returncode == 2 and "is standard output" in json.loads(out.read_text())["error"]
    res = subprocess.run(BENIGN + ["certify", "zsl-half", "--point", "0,0.7071067811865476", "--export",
                                   "/dev/stdout"], capture_output=True, text=True, timeout=120)
    record, _ = json.JSONDecoder().raw_decode(res.stdout)  # the record, then the human summary
    assert res.returncode == 0 and record["format"] == "benign-certificate"


def test_an_uncertified_nonneg_family_exits_1_and_saves_nothing(tmp_path):
    """Below the SDP solvers' accuracy the family is not certified: the report (with its note) is printed, then an
    error line, exit status 1, and --save writes nothing."""
    save = tmp_path / "cx.npz"
    res = subprocess.run(BENIGN + ["counterexample", "--nonneg-family", "1e-9", "--save", str(save), "--json"],
                         capture_output=True, text=True, timeout=300)
    report = json.loads(res.stdout)
    assert res.returncode == 1 and report["certified"] is False and "not certified" in report["note"]
    assert "no certified counterexample" in res.stderr and "nothing saved" in res.stderr and not save.exists()


def test_a_damaged_instance_file_is_refused_before_importing_jax(tmp_path):
    """load_instance checks every entry against the JAX-free table of saved arrays before it builds the operator."""
    import numpy as np

    from benign.instances import build
    from benign.io import save_instance

    good = save_instance(str(tmp_path / "good.npz"), build("sensing:n=4,r=1,m=20,seed=0"))
    data = dict(np.load(good))
    bad_b = dict(data, b=np.where(np.arange(20) == 0, np.nan, data["b"]))
    no_a = {k: v for k, v in data.items() if k != "op_A"}
    for name, arrays, needle in (("nanb", bad_b, "non-finite value nan"), ("noa", no_a, "missing entry 'op_A'")):
        path = str(tmp_path / f"{name}.npz")
        np.savez(path, **arrays)
        words, err = fresh_cli("info", path)
        assert words == ["2", "False"] and needle in err, (words, err)


def test_the_common_certifier_defaults_are_certifys():
    """certify_settings.COMMON_DEFAULTS (what the l1 refusal compares against) are certify()'s own defaults."""
    from benign.certify.core import certify
    from benign.certify_settings import COMMON_DEFAULTS

    assert COMMON_DEFAULTS == {k: certify.__kwdefaults__[k] for k in COMMON_DEFAULTS}


def test_point_rows_checked_against_a_saved_instance_before_jax(tmp_path):
    """A point with the wrong number of rows for a saved instance is refused from the file's metadata, before JAX
    loads (symmetric: n rows; an asymmetric truth or factorisation: d1 + d2); a file that cannot say is read in
    full, and that reading names the fault."""
    from benign.instances import build
    from benign.io import save_instance, saved_matrix_shape

    sym = save_instance(str(tmp_path / "sym.npz"), build("sensing:n=4,r=1,m=20,seed=0"))
    asym = save_instance(str(tmp_path / "asym.npz"), build("sensing:n=4,d2=3,r=1,m=20,seed=0"))
    assert saved_matrix_shape(sym) == (4, 4, True) and saved_matrix_shape(asym) == (4, 3, False)
    assert saved_matrix_shape(str(tmp_path / "missing.npz")) is None
    from benign.specs import objective_nonnegative, parse_instance

    assert objective_nonnegative(parse_instance(sym)) is None  # a saved instance's own flag decides, once built
    for argv, needle in ((["certify", sym, "--point", "1,0,1"], f"--point must have 4 rows (n) for {sym}"),
                         (["certify", sym, "--point", "1,0,1,1", "--factorization", "asymmetric"],
                          "--point must have 8 rows (d1 + d2)"),
                         (["solve", asym, "--x0", "1,0,1,1"], "--x0 must have 7 rows (d1 + d2)"),
                         (["landscape", sym, "--point", "1,0", "--dir1", "1,0"], "--point must have 4 rows (n)"),
                         (["certify", asym, "--point", "truth", "--factorization", "symmetric"],
                          "--factorization symmetric needs a square instance, got 4 x 3"),
                         (["certify", sym, "--point", "truth", "--balance", "1"], "--balance 1 applies to the asym"),
                         (["solve", asym, "--constraint", "nonneg"], "--constraint nonneg is implemented for the sym"),
                         (["solve", sym, "--balance", "1"], "--balance applies to the asymmetric factorisation"),
                         (["rip", asym, "--rank", "4"], "--rank must be <= 3 for this instance, got 4")):
        words, err = fresh_cli(*argv)
        assert words == ["2", "False"] and needle in err, (argv, words, err)
