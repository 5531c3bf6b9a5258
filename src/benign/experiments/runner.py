"""Running a sweep: pending trials -> units -> (in-process | Dask LocalCluster | Dask scheduler) -> store.

* A **unit** is up to ``batch_size`` seeds of one grid point. With batching on (``batch = true``, or ``"auto"``
  and a kind that has a batched function) a unit runs in one batched call; otherwise its trials run one by one.
  A batched call that fails falls back to one by one, so an error is recorded against the trial that raised it.
* Units run in this process (default, and for ``workers <= 1``; several at a time on a thread pool when the trial kind
  is registered ``threadsafe``, see :func:`default_threads`), on an embedded ``dask.distributed.LocalCluster``
  with ``workers`` single-threaded processes, or on an existing cluster (``scheduler="tcp://host:port"`` or a
  ``distributed.Client``). Workers only compute; this process writes every finished unit to the store at once.
* Resuming: trials whose key is already stored are skipped (failed ones too, unless ``retry_failed``), so
  re-running a killed sweep computes each missing trial exactly once.

The numbers a trial produces do not depend on where it runs: the trial function sees only ``(params, seed)``.
"""
from __future__ import annotations

import logging
import os
import re
import socket
import sys
import time
import traceback
from typing import Any, Callable

from benign.errors import check_bool, check_int
from benign.experiments.spec import BATCH_VALUES, SweepSpec, Trial, load_spec
from benign.experiments.store import Store
from benign.experiments.trials import NotBatchable, get_trial, import_callable, normalize_output

_FN_CACHE: dict[str, Callable] = {}


def _resolve(fn: Any) -> Callable | None:
    if fn is None or callable(fn):
        return fn
    if fn not in _FN_CACHE:
        _FN_CACHE[fn] = import_callable(fn)
    return _FN_CACHE[fn]


_WARNED: set = set()


def _warn_fallback(exc: BaseException) -> None:
    """Say (once per process and error) that a batched call failed although every trial runs alone."""
    import warnings

    tag = (type(exc).__name__, str(exc)[:200])
    if tag not in _WARNED:
        _WARNED.add(tag)
        warnings.warn(f"the batched trial function failed ({type(exc).__name__}: {str(exc)[:300]}) although "
                      "every trial runs one by one; units fall back to one by one", RuntimeWarning, stacklevel=3)


def _worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _error(exc: BaseException) -> dict:
    tb = traceback.format_exception(type(exc), exc, exc.__traceback__)
    short = "".join(tb[-4:])
    return {"status": "error", "result": None, "error_type": type(exc).__name__,
            "error_message": str(exc)[:2000], "traceback": short[-4000:]}


def execute_unit(fn: Any, batch_fn: Any, params_list: list[dict], seeds: list[int],
                 use_batch: bool = True, strategy: str | None = None, stop: Any = None) -> list[dict] | None:
    """Run the trials ``zip(params_list, seeds)`` (in any process) and return one record per trial:
    ``status``, ``result`` or the error's ``error_type``/``error_message``/``traceback``, ``seconds``,
    ``batched`` and ``worker``. ``fn``/``batch_fn`` are callables or ``"module:function"`` references;
    ``strategy`` (when given) is passed to ``batch_fn`` as a keyword. ``stop``: a ``threading.Event``; once set, the
    trials run one by one stop after the current one, and the call returns None (the unit is not complete; also
    when ``stop`` is set before it starts)."""
    if stop is not None and stop.is_set():
        return None
    f = _resolve(fn)
    bf = _resolve(batch_fn) if use_batch else None
    worker = _worker_id()
    batch_error = None
    if bf is not None and len(seeds) > 1:
        t0 = time.perf_counter()
        try:
            extra = {} if strategy is None else {"strategy": strategy}
            outs = bf([dict(p) for p in params_list], list(seeds), **extra)
            if len(outs) != len(seeds):
                raise ValueError(f"batched trial returned {len(outs)} results for {len(seeds)} trials")
            outs = [normalize_output(o) for o in outs]
        except NotBatchable:
            outs = None
        except Exception as exc:  # noqa: BLE001 -- a failing member (or a broken batched path): one by one
            batch_error = exc
            outs = None
        if outs is not None:
            each = (time.perf_counter() - t0) / len(seeds)
            return [{"status": "ok", "result": o, "seconds": each, "batched": len(seeds), "worker": worker}
                    for o in outs]
    records = []
    for params, seed in zip(params_list, seeds):
        if stop is not None and stop.is_set():
            return None
        t0 = time.perf_counter()
        try:
            rec = {"status": "ok", "result": normalize_output(f(dict(params), int(seed)))}
        except Exception as exc:  # noqa: BLE001 -- a failing trial is recorded, the sweep goes on
            rec = _error(exc)
        rec.update(seconds=time.perf_counter() - t0, batched=1, worker=worker)
        records.append(rec)
    if batch_error is not None and all(r["status"] == "ok" for r in records):
        _warn_fallback(batch_error)  # no member fails alone: the batched path itself is broken
    return records


def _rows(spec: SweepSpec, unit: list[Trial], records: list[dict], version: str) -> list[dict]:
    now = time.time()
    return [{"key": t.key, "sweep": spec.name, "trial": spec.trial, "point": t.point, "params": t.params,
             "seed": t.seed, "version": version, "finished": now, **rec} for t, rec in zip(unit, records)]


def pending_trials(spec: SweepSpec, store: Store, retry_failed: bool = False) -> tuple[list[Trial], dict]:
    """The trials still to run and the stored ``key -> status`` map of this spec's trials."""
    stored = store.statuses(t.key for t in spec.trials)
    todo = [t for t in spec.trials if t.key not in stored or (retry_failed and stored[t.key] == "error")]
    return todo, stored


def _pending_units(spec: SweepSpec, pending: set, limit: int | None) -> list[list[Trial]]:
    """The spec's units (fixed from the full trial list) restricted to pending trials, at most ``limit`` trials.

    Units are written atomically, so after an interruption the pending trials form whole original units and a
    resumed sweep runs exactly the batches an uninterrupted one would (bitwise-identical numbers); only ``limit``
    or ``retry_failed`` can leave a unit partly done, which then runs as a smaller batch.
    """
    units = []
    left = limit
    for unit in spec.units():
        unit = [t for t in unit if t.key in pending]
        if left is not None:
            unit = unit[:left]
            left -= len(unit)
        if unit:
            units.append(unit)
    return units


#: most threads :func:`default_threads` gives an in-process sweep: past a few threads the Python of each unit (under
#: the GIL) is the limit -- on a 16-core CPU, 4 threads ran 1000 small trials at 3.8x a plain loop, 8 at 3.2x,
#: 12 at 3.3x (``python benchmarks/sweep_throughput.py --threads-scan 1,4,8,12``, version 0.4.0)
MAX_DEFAULT_THREADS = 4


#: most embedded-cluster workers per usable CPU (each is a process that imports JAX)
MAX_WORKERS_PER_CPU = 4


def usable_cpus() -> int:
    """CPUs this process may run on (its affinity mask where the platform has one, e.g. a container's share)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover (macOS, Windows)
        return os.cpu_count() or 1


#: a Dask scheduler address: ``tcp://host:port`` (or another protocol), or ``host:port`` (``[::1]:port`` for IPv6);
#: ``inproc://...`` (an in-process cluster) is passed as it is
_ADDRESS = re.compile(r"^([a-z][a-z0-9+]*://)?(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.\-]+):(\d+)/?$")


def check_parallel(workers: int | None, scheduler: Any, threads: int | None, *, cli: bool = False
                   ) -> tuple[int | None, int | None]:
    """``(workers, threads)`` checked, with ``scheduler`` (``ValueError``/``TypeError`` naming the value): at most
    :data:`MAX_WORKERS_PER_CPU` workers per usable CPU, workers or a scheduler (not both), threads only in process,
    a scheduler given as an address with a port in 1..65535 (or a ``distributed.Client``), and a ``tcp://`` address
    that answers (:func:`_probe_scheduler`). Cheap (the probe: one connection, once per address and process): the
    CLI calls it (``cli=True``: the values named as ``--workers``, ...) before importing Dask."""
    w, s, t = ("--workers", "--scheduler", "--threads") if cli else ("workers", "scheduler", "threads")
    if workers is not None:
        workers = check_int(w, workers, minimum=0)
        most = MAX_WORKERS_PER_CPU * usable_cpus()
        if workers > most:
            raise ValueError(f"{w} = {workers}: the embedded cluster starts one process per worker, and more than "
                             f"{most} ({MAX_WORKERS_PER_CPU} per usable CPU) only adds start-up time and memory; for "
                             f"more machines start a Dask cluster and pass its scheduler")
    if threads is not None:
        threads = check_int(t, threads, minimum=1)
    if workers and workers > 1 and scheduler is not None:
        raise ValueError(f"give either {w} (an embedded cluster) or {s} (an existing one), not both")
    if threads is not None and threads > 1 and ((workers and workers > 1) or scheduler is not None):
        raise ValueError(f"{t} = {threads} applies to in-process runs; with {w} or {s} each worker process runs one "
                         f"unit at a time")
    if isinstance(scheduler, str) and not scheduler.startswith("inproc://"):
        match = _ADDRESS.match(scheduler.strip())
        if match is None:
            raise ValueError(f"{s} must be an address such as tcp://127.0.0.1:8786, got {scheduler!r}")
        if not 1 <= int(match.group(3)) <= 65535:
            raise ValueError(f"{s} {scheduler!r}: the port must be in 1..65535, got {int(match.group(3))}")
        if (match.group(1) or "tcp://") == "tcp://":
            _probe_scheduler(match.group(2).strip("[]"), int(match.group(3)), scheduler, s)
    return workers, threads


#: the scheduler probe: seconds one TCP connection attempt may take (past it, Dask's own attempts decide) ...
PROBE_TIMEOUT = 3.0
#: ... and how long refused connections are retried (a scheduler started a moment before the sweep is not up yet)
PROBE_RETRY = 2.0
#: name-resolution errors that say the host does not exist (a temporary failure is left to Dask)
_NO_SUCH_HOST = tuple(getattr(socket, name) for name in ("EAI_NONAME", "EAI_NODATA") if hasattr(socket, name))
_ANSWERED: set[tuple[str, int]] = set()  # (host, port) that accepted a probe in this process


def _probe_scheduler(host: str, port: int, address: str, label: str) -> None:
    """A ``tcp://`` scheduler address (or one without a scheme) whose host does not exist, or whose port refuses
    connections for ``PROBE_RETRY`` seconds, is a ``ValueError``; Dask's client would retry until its timeout
    (20 s). A timeout, an unreachable network or a temporary name-resolution failure are left to Dask. The probe
    connects and closes (nothing is sent), once per address and process."""
    if (host, port) in _ANSWERED:
        return
    deadline = time.monotonic() + PROBE_RETRY
    while True:
        try:
            socket.create_connection((host, port), timeout=PROBE_TIMEOUT).close()
        except ConnectionRefusedError as exc:
            if time.monotonic() < deadline:
                time.sleep(0.1)
                continue
            raise ValueError(f"cannot connect to the Dask scheduler at {address!r} ({label}): {exc}") from None
        except socket.gaierror as exc:
            if exc.errno in _NO_SUCH_HOST:
                raise ValueError(f"cannot connect to the Dask scheduler at {address!r} ({label}): {exc}") from None
            return
        except OSError:  # timed out, unreachable network, ...: Dask's connection attempts decide
            return
        _ANSWERED.add((host, port))
        return


def default_threads(kind, trials: list[Trial] | None = None) -> int:
    """Threads of an in-process sweep when none are asked for: ``1`` unless the trial kind is threadsafe for every
    trial in ``trials`` (see :class:`~benign.experiments.trials.TrialKind`) and JAX computes on the CPU, else one more
    than the CPUs this process may use (at most :data:`MAX_DEFAULT_THREADS`). A unit's compiled solver run releases
    the GIL, so while one thread is inside XLA another draws its instances and records its results in Python; one
    spare thread keeps every core busy through those Python stretches (1000 small GD trials on 2 cores, the fastest
    count was 3: ``python benchmarks/sweep_throughput.py --threads-scan 1,2,3,4,6``, numbers in docs/sweeps.md).
    Accelerators keep one thread (not measured there)."""
    if not kind.threadsafe or any(not kind.threadsafe_for(t.params) for t in trials or ()):
        return 1
    from benign._jax import jax

    if jax.default_backend() != "cpu":
        return 1
    return max(1, min(usable_cpus() + 1, MAX_DEFAULT_THREADS))


def _run_threads(units: list[list[Trial]], run_unit: Callable, finish: Callable, threads: int) -> None:
    """``finish(unit, run_unit(unit, stop))`` for every unit, ``run_unit`` on a pool of ``threads`` threads and
    ``finish`` (the store) in this thread, in order of completion. On an exception (e.g. Ctrl-C) ``stop`` is set: units
    not started are cancelled, running ones stop after their current trial (a compiled batch runs to its end) and
    return None, and every unit that did finish is still written (whole units only, so a resumed sweep runs exactly
    the missing ones)."""
    import threading
    from concurrent.futures import ThreadPoolExecutor, as_completed

    stop = threading.Event()
    pool = ThreadPoolExecutor(threads, thread_name_prefix="benign-unit")
    futures: dict = {}
    try:
        futures = {pool.submit(run_unit, unit, stop): unit for unit in units}
        for fut in as_completed(futures):
            finish(futures.pop(fut), fut.result())
    finally:
        stop.set()
        pool.shutdown(wait=True, cancel_futures=True)
        for fut, unit in futures.items():  # finished while stopping
            if fut.done() and not fut.cancelled() and fut.exception() is None and fut.result() is not None:
                try:
                    finish(unit, fut.result())
                except Exception:  # noqa: BLE001 -- the original exception is the one to report
                    break


def run_sweep(spec: Any, *, workers: int | None = None, scheduler: Any = None, db: str | None = None,
              retry_failed: bool = False, progress: bool | str | None = None, limit: int | None = None,
              batch: bool | None = None, threads: int | None = None) -> dict[str, Any]:
    """Run every trial of ``spec`` not yet in its store; return a summary dict.

    ``spec``: a TOML path, a dict or a :class:`SweepSpec`. ``workers``: processes of an embedded
    ``LocalCluster`` (``None``/``0``/``1``: in this process). ``scheduler``: address of a running Dask scheduler
    (or a ``distributed.Client``). ``db``: the results file (default from the spec). ``retry_failed``: re-run
    stored failures. ``progress``: a Rich bar on stderr (default: when stderr is a terminal); ``"lines"``: a plain
    line on stderr at most every :data:`PROGRESS_LINE_SECONDS` and at the end (for logs and pipes). ``limit``: run at
    most this many trials. ``batch``: override the spec's batching (``True``/``False``/``"map"``/``"vmap"``;
    ``None`` keeps the spec's). ``threads``: units run at once in this process (default :func:`default_threads`:
    several for a threadsafe trial kind such as ``solve`` without ``certify`` or ``convex``, else 1; an explicit value
    applies to any kind, at the caller's risk; not with ``workers > 1`` or ``scheduler``). The numbers do not depend
    on ``threads``; only the order in which units reach the store does, and the per-trial seconds, which include the
    threads' contention.

    Summary keys: ``name``, ``db``, ``total`` (trials in the spec), ``skipped`` (already stored), ``ran``, ``ok``,
    ``failed`` (in this run), ``stored_failed`` (trials of the spec whose stored result is a failure, this run's
    and earlier ones: ``retry_failed`` re-runs them), ``pending`` (left after this run), ``seconds`` (wall time of
    this run),
    ``trials_per_second``, ``mode``, ``batched`` (batching used), ``strategy`` (the one passed to the batched
    function, ``"default"`` for the function's own choice; ``None`` when not batched).
    """
    from benign import __version__

    workers, threads = check_parallel(workers, scheduler, threads)
    retry_failed = check_bool("retry_failed", retry_failed)
    spec = load_spec(spec, db=db)
    if limit is not None:
        limit = check_int("limit", limit, minimum=0)
    kind = get_trial(spec.trial)
    if batch is not None and batch not in BATCH_VALUES:
        raise ValueError(f"batch must be True, False, 'auto', 'map' or 'vmap', got {batch!r}")
    mode_b = spec.batch if batch is None else batch
    use_batch = mode_b is not False and kind.batch is not None
    strategy = mode_b if mode_b in ("map", "vmap") else None

    t_start = time.perf_counter()
    with Store(spec.db) as store:
        store.record_sweep(spec.name, spec.source)
        todo, stored = pending_trials(spec, store, retry_failed)
        skipped = len(spec.trials) - len(todo)
        units = _pending_units(spec, {t.key for t in todo}, limit)
        counts = {"ok": 0, "error": 0}
        show = sys.stderr.isatty() if progress is None else progress
        if show not in (True, False, "lines"):
            raise ValueError(f"progress must be True, False, None or 'lines', got {progress!r}")
        bar = _Progress(show, total=len(spec.trials), done=skipped, name=spec.name)

        def finish(unit: list[Trial], records: list[dict]) -> None:
            store.write(_rows(spec, unit, records, __version__))
            for r in records:
                counts[r["status"]] += 1
            bar.advance(len(unit))

        with bar:
            if scheduler is None and (not workers or workers <= 1):
                def run_unit(unit: list[Trial], stop: Any = None) -> list[dict] | None:
                    return execute_unit(kind.fn, kind.batch, [t.params for t in unit], [t.seed for t in unit],
                                        use_batch, strategy, stop=stop)

                n_threads = 1 if len(units) <= 1 else min(default_threads(kind, todo) if threads is None else threads,
                                                          len(units))
                mode = "in-process" if n_threads == 1 else f"in-process({n_threads} threads)"
                if n_threads == 1:
                    for unit in units:
                        finish(unit, run_unit(unit))
                else:
                    _run_threads(units, run_unit, finish, n_threads)
            else:
                mode = _run_dask(spec, kind, units, use_batch, strategy, workers, scheduler, finish)
        ran = counts["ok"] + counts["error"]
        left_todo, stored_after = pending_trials(spec, store, False)
        left = len(left_todo)
    seconds = time.perf_counter() - t_start
    stored_failed = sum(1 for status in stored_after.values() if status == "error")
    return {"name": spec.name, "db": spec.db, "total": len(spec.trials), "skipped": skipped, "ran": ran,
            "ok": counts["ok"], "failed": counts["error"], "stored_failed": stored_failed, "pending": left,
            "seconds": seconds,
            "trials_per_second": ran / seconds if seconds > 0 else float("nan"), "mode": mode,
            "batched": use_batch, "strategy": (strategy or "default") if use_batch else None}


def _payload(fn: Callable | None, ref: str | None) -> Any:
    return ref if ref is not None else fn


#: JAX's GPU memory settings: when the user set none of them, the embedded cluster's workers allocate on demand
#: instead of each taking JAX's default 75% of the accelerator's memory up front (with two workers and this process
#: on one GPU, the second process to start ran out of memory)
_GPU_MEMORY_VARIABLES = ("XLA_PYTHON_CLIENT_PREALLOCATE", "XLA_PYTHON_CLIENT_MEM_FRACTION", "XLA_CLIENT_MEM_FRACTION",
                         "XLA_PYTHON_CLIENT_ALLOCATOR")


def worker_environment() -> dict[str, str]:
    """Environment variables set in the embedded ``LocalCluster``'s worker processes (besides the inherited ones):
    ``XLA_PYTHON_CLIENT_PREALLOCATE=false`` unless one of :data:`_GPU_MEMORY_VARIABLES` is set (no effect on CPU)."""
    if any(v in os.environ for v in _GPU_MEMORY_VARIABLES):
        return {}
    return {"XLA_PYTHON_CLIENT_PREALLOCATE": "false"}


def local_cluster(workers: int):
    """The embedded ``dask.distributed.LocalCluster`` of ``--workers``: ``workers`` processes of one thread each.

    The workers inherit this process's environment (XLA_FLAGS included: the same XLA settings give the same
    floating-point results as an in-process run), plus :func:`worker_environment`."""
    from distributed import LocalCluster

    return LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None,
                        silence_logs=logging.ERROR, env=worker_environment())


def _run_dask(spec: SweepSpec, kind, units: list[list[Trial]], use_batch: bool, strategy: str | None,
              workers: int | None, scheduler: Any, finish: Callable) -> str:
    try:
        from distributed import Client, as_completed
    except ImportError:  # pragma: no cover
        raise ValueError("parallel sweeps need dask.distributed: pip install 'benign[sweep]'") from None
    cluster = None
    own_client = True
    if scheduler is not None:
        if isinstance(scheduler, Client):
            client, own_client = scheduler, False
            mode = f"scheduler {client.scheduler.address}"
        else:
            if not isinstance(scheduler, str) or not scheduler.strip():
                raise ValueError(f"scheduler must be an address such as tcp://127.0.0.1:8786, got {scheduler!r}")
            try:
                client = Client(scheduler, timeout="20s")
            except (OSError, TimeoutError, ValueError) as exc:  # (ValueError: an address Dask cannot parse)
                raise ValueError(f"cannot connect to the Dask scheduler at {scheduler!r}: {exc}") from None
            mode = f"scheduler {scheduler}"
    else:
        cluster = local_cluster(workers)
        client = Client(cluster)
        mode = f"local-cluster({workers})"
    fn = _payload(kind.fn, kind.ref)
    bfn = _payload(kind.batch, kind.batch_ref) if use_batch else None
    import uuid

    run_id = uuid.uuid4().hex[:12]  # task keys unique to this run (a cluster may remember an earlier run's keys)
    try:
        futures = {}
        for i, unit in enumerate(units):
            fut = client.submit(execute_unit, fn, bfn, [t.params for t in unit], [t.seed for t in unit],
                                use_batch, strategy, pure=False, key=f"benign-unit-{run_id}-{i}")
            futures[fut.key] = (fut, unit)
        for fut in as_completed([f for f, _ in futures.values()]):
            unit = futures.pop(fut.key)[1]
            try:
                records = fut.result()
            except Exception as exc:  # noqa: BLE001 -- e.g. a worker died: record it, go on
                rec = _error(exc)
                records = [dict(rec, seconds=None, batched=len(unit), worker=None) for _ in unit]
            finish(unit, records)
    finally:
        if own_client:
            client.close()
        if cluster is not None:
            cluster.close()
    return mode


#: with ``progress="lines"``, seconds between two progress lines
PROGRESS_LINE_SECONDS = 10.0


class _Progress:
    """Progress on stderr with rate and ETA: a Rich bar (``True``), plain lines (``"lines"``) or nothing."""

    def __init__(self, mode: bool | str, total: int, done: int, name: str) -> None:
        self.mode = mode
        self.total, self.done, self.name = total, done, name
        self._p = None
        self._start_done = done
        self._t0 = self._last = time.perf_counter()

    def __enter__(self) -> "_Progress":
        if self.mode is True:
            from rich.console import Console
            from rich.progress import (BarColumn, MofNCompleteColumn, Progress, ProgressColumn, TextColumn,
                                       TimeElapsedColumn, TimeRemainingColumn)
            from rich.text import Text

            class Rate(ProgressColumn):
                def render(self, task):  # noqa: D401
                    return Text("  -   trials/s" if not task.speed else f"{task.speed:6.1f} trials/s")

            self._p = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), Rate(),
                               TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
                               console=Console(stderr=True), transient=False)
            self._p.__enter__()
            self._task = self._p.add_task(self.name, total=self.total, completed=self.done)
        return self

    def line(self) -> str:
        """``name: done/total trials (pct), rate trials/s, ETA`` (the rate over this run's trials)."""
        elapsed = time.perf_counter() - self._t0
        ran = self.done - self._start_done
        rate = ran / elapsed if elapsed > 0 else 0.0
        eta = f"{(self.total - self.done) / rate:.0f} s" if rate > 0 else "-"
        pct = 100.0 * self.done / self.total if self.total else 100.0
        return (f"{self.name}: {self.done}/{self.total} trials ({pct:.0f}%), {rate:.1f} trials/s, "
                f"elapsed {elapsed:.0f} s, ETA {eta}")

    def advance(self, k: int) -> None:
        self.done += k
        if self._p is not None:
            self._p.advance(self._task, k)
        elif self.mode == "lines":
            now = time.perf_counter()
            if now - self._last >= PROGRESS_LINE_SECONDS:
                self._last = now
                print(self.line(), file=sys.stderr, flush=True)

    def __exit__(self, *exc: Any) -> None:
        if self._p is not None:
            self._p.__exit__(*exc)
        elif self.mode == "lines" and exc[0] is None:
            print(self.line(), file=sys.stderr, flush=True)
