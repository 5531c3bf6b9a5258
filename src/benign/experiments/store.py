"""The results store: one SQLite file (WAL journal), one row per trial, keyed by the trial's hash.

Durability: every unit of finished trials is written in one transaction with ``synchronous=FULL``, so a
committed trial survives a killed process (and a power cut); a killed sweep loses at most the unit in flight.
Only the process running the sweep writes (workers send their results back), and SQLite's locking makes
several sweeps writing to one file safe.

Table ``trials``: ``key`` (primary key), ``sweep`` (the name of the spec that wrote it), ``trial`` (kind),
``point`` (JSON grid point), ``params`` (JSON), ``seed``, ``version`` (benign's), ``status`` (``ok``/``error``),
``result`` (JSON dict of outputs), ``error_type``, ``error_message``, ``traceback``, ``seconds`` (wall time of
the trial; a batch's time is split evenly), ``batched`` (trials in its batch), ``worker``, ``finished`` (Unix time).
Table ``sweeps``: ``name``, ``spec`` (the source text), ``updated``.
"""
from __future__ import annotations

import json
import os
import pathlib
import sqlite3
import time
from typing import Any, Iterable

SCHEMA = """
CREATE TABLE IF NOT EXISTS trials (
    key TEXT PRIMARY KEY,
    sweep TEXT NOT NULL,
    trial TEXT NOT NULL,
    point TEXT NOT NULL,
    params TEXT NOT NULL,
    seed INTEGER NOT NULL,
    version TEXT NOT NULL,
    status TEXT NOT NULL,
    result TEXT,
    error_type TEXT,
    error_message TEXT,
    traceback TEXT,
    seconds REAL,
    batched INTEGER,
    worker TEXT,
    finished REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS sweeps (
    name TEXT PRIMARY KEY,
    spec TEXT NOT NULL,
    updated REAL NOT NULL
);
"""
COLUMNS = ("key", "sweep", "trial", "point", "params", "seed", "version", "status", "result", "error_type",
           "error_message", "traceback", "seconds", "batched", "worker", "finished")


class _NotAStore(Exception):
    """An existing file that is not a benign results store (reported as ``ValueError`` naming the file)."""


def _check_tables(conn: sqlite3.Connection) -> None:
    """An existing file must hold a ``trials`` table with the columns this version writes, or no table at all (a
    store being created by another process, or one whose creation was interrupted)."""
    try:
        tables = [row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    except sqlite3.DatabaseError as exc:
        if "file is not a database" in str(exc):
            raise _NotAStore(str(exc)) from None
        raise
    if not tables:
        return
    if "trials" not in tables:
        raise _NotAStore(f"it holds no table 'trials' (tables: {', '.join(tables)})")
    have = {row[1] for row in conn.execute("PRAGMA table_info(trials)")}
    missing = [c for c in COLUMNS if c not in have]
    if missing:
        raise _NotAStore(f"its table 'trials' lacks the columns {', '.join(missing)}")


def _refusal(path: str, why: Any) -> ValueError:
    """The error for an existing file that is not a benign results store (the file is left as it was)."""
    return ValueError(f"{path!r} is not a benign results file ({why})")


def _not_sqlite(path: str) -> bool:
    """A non-empty file without SQLite's header (SQLite itself reads a file under 100 bytes as an empty database,
    and would write its tables into it); ``False`` when it cannot be read (SQLite says why when it opens it)."""
    try:
        with open(path, "rb") as fh:
            return fh.read(16) != b"SQLite format 3\x00"
    except OSError:
        return False


def check_results_file(path: str) -> None:
    """``ValueError`` when ``path`` exists, is not empty and is not a benign results file, opened read-only (its
    contents are not changed; reading a store in WAL mode may leave SQLite's ``-shm``/``-wal`` side files, which
    the store removes when it is next opened): the CLI calls it as soon as the path is known, before a spec's
    slower checks."""
    if not os.path.isfile(path) or os.path.getsize(path) == 0:
        return
    if _not_sqlite(path):
        raise _refusal(path, "not an SQLite file")
    try:
        # (a URI with the path escaped: '#', '?' or '%' in a name would otherwise cut it short)
        conn = sqlite3.connect(pathlib.Path(os.path.abspath(path)).as_uri() + "?mode=ro", uri=True)
    except sqlite3.Error:  # (unreadable: the store itself says why, later)
        return
    try:
        _check_tables(conn)
    except _NotAStore as exc:
        raise _refusal(path, exc) from None
    except sqlite3.Error:
        return
    finally:
        conn.close()


class Store:
    """A connection to a results file; use as a context manager or call :meth:`close`."""

    def __init__(self, path: str, *, create: bool = True) -> None:
        if not isinstance(path, (str, os.PathLike)):
            raise TypeError(f"db must be a path, got {type(path).__name__}")
        path = os.fspath(path)
        if not create and not os.path.isfile(path):
            raise ValueError(f"results file {path!r} does not exist (run the sweep first)")
        d = os.path.dirname(os.path.abspath(path))
        os.makedirs(d, exist_ok=True)
        self.path = path
        existing = os.path.isfile(path) and os.path.getsize(path) > 0
        if existing and _not_sqlite(path):
            raise _refusal(path, "not an SQLite file")
        self.conn = sqlite3.connect(path, timeout=60.0, isolation_level=None)
        try:
            if existing:  # read-only checks first: another program's file is refused untouched
                _check_tables(self.conn)
            self.conn.execute("PRAGMA journal_mode=WAL")
            self.conn.execute("PRAGMA synchronous=FULL")
            self.conn.execute("PRAGMA busy_timeout=60000")
            self.conn.executescript(SCHEMA)
        except _NotAStore as exc:
            self.conn.close()
            raise _refusal(path, exc) from None
        except sqlite3.DatabaseError as exc:
            self.conn.close()
            if "file is not a database" in str(exc):  # (other errors -- locked, read-only, I/O -- say what they are)
                raise _refusal(path, exc) from None
            raise

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        self.conn.close()

    # ------------------------------------------------------------------------------------------ writing
    def record_sweep(self, name: str, spec_text: str) -> None:
        with self._tx():
            self.conn.execute("INSERT OR REPLACE INTO sweeps (name, spec, updated) VALUES (?, ?, ?)",
                              (name, spec_text, time.time()))

    def write(self, rows: Iterable[dict]) -> int:
        """Insert (or replace) finished trials in one transaction; returns how many were written."""
        data = [tuple(_encode(c, row.get(c)) for c in COLUMNS) for row in rows]
        if not data:
            return 0
        with self._tx():
            self.conn.executemany(f"INSERT OR REPLACE INTO trials ({', '.join(COLUMNS)}) "
                                  f"VALUES ({', '.join('?' for _ in COLUMNS)})", data)
        return len(data)

    def _tx(self):
        conn = self.conn

        class _Tx:
            def __enter__(self_inner):
                conn.execute("BEGIN IMMEDIATE")

            def __exit__(self_inner, et, ev, tb):
                conn.execute("COMMIT" if et is None else "ROLLBACK")
                return False
        return _Tx()

    # ------------------------------------------------------------------------------------------ reading
    def statuses(self, keys: Iterable[str] | None = None) -> dict[str, str]:
        """``key -> status`` for the given keys (all rows when ``keys`` is None)."""
        if keys is None:
            return dict(self.conn.execute("SELECT key, status FROM trials"))
        out: dict[str, str] = {}
        keys = list(keys)
        for i in range(0, len(keys), 500):
            chunk = keys[i:i + 500]
            q = f"SELECT key, status FROM trials WHERE key IN ({', '.join('?' for _ in chunk)})"
            out.update(dict(self.conn.execute(q, chunk)))
        return out

    def rows(self, keys: Iterable[str] | None = None) -> list[dict]:
        """Decoded rows (``point``, ``params``, ``result`` as dicts), for ``keys`` or all."""
        cur = self.conn.cursor()
        if keys is None:
            raw = cur.execute(f"SELECT {', '.join(COLUMNS)} FROM trials ORDER BY rowid").fetchall()
        else:
            raw = []
            keys = list(keys)
            for i in range(0, len(keys), 500):
                chunk = keys[i:i + 500]
                q = f"SELECT {', '.join(COLUMNS)} FROM trials WHERE key IN ({', '.join('?' for _ in chunk)})"
                raw.extend(cur.execute(q, chunk).fetchall())
        return [_decode(dict(zip(COLUMNS, r))) for r in raw]

    def sweeps(self) -> dict[str, str]:
        return dict(self.conn.execute("SELECT name, spec FROM sweeps"))

    def count(self) -> int:
        return int(self.conn.execute("SELECT COUNT(*) FROM trials").fetchone()[0])


def _encode(col: str, v: Any) -> Any:
    if col in ("point", "params", "result"):
        return None if v is None else json.dumps(v, sort_keys=True, allow_nan=True)
    return v


def _decode(row: dict) -> dict:
    for col in ("point", "params", "result"):
        if row[col] is not None:
            row[col] = json.loads(row[col])
    return row
