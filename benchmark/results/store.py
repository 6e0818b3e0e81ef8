"""The results store: one SQLite file holding every run and its metric values.

Each operation opens its own connection, so a store object may be shared by
threads of one process only loosely, but any number of processes can write to
the same file at once: the database runs in WAL mode, writers take the write
lock up front (``BEGIN IMMEDIATE``) and wait for each other (busy timeout), and
a run is written together with all its metric rows in one transaction.

A run folder is stored relative to the store's own folder (``runs/<name>``; one outside it,
absolute) and read back as an absolute path, so reports work from any working folder and an
output root (the store with its ``runs/``) can be moved as a whole.
"""

from __future__ import annotations

import contextlib
import json
import math
import sqlite3
import time
from pathlib import Path
from typing import Any, Callable, Iterator

from benchmark.results.aggregate import seed_groups
from benchmark.results.records import MetricValue, RunRecord, newest_key, utc_now
from benchmark.util.errors import BenchError

SCHEMA_VERSION = 2  # 2: metrics.ci (a bootstrap interval); a version-1 file gains the column
BUSY_TIMEOUT_S = 30.0
_IDS_PER_QUERY = 500  # well below SQLite's limit on bound parameters

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    label TEXT NOT NULL,
    model TEXT NOT NULL,
    preset TEXT NOT NULL,
    dataset TEXT NOT NULL,
    profile TEXT NOT NULL,
    seed INTEGER NOT NULL,
    options TEXT NOT NULL,
    config TEXT NOT NULL,
    protocol TEXT NOT NULL,
    versions TEXT NOT NULL,
    device TEXT NOT NULL,
    wall_time_s REAL NOT NULL,
    status TEXT NOT NULL,
    reason TEXT,
    run_dir TEXT NOT NULL,
    input_kind TEXT NOT NULL,
    note TEXT NOT NULL,
    created TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS runs_dataset ON runs (dataset, label, status);
CREATE INDEX IF NOT EXISTS runs_run_dir ON runs (run_dir);
CREATE TABLE IF NOT EXISTS metrics (
    run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    name TEXT NOT NULL,
    value REAL,
    direction TEXT NOT NULL,
    protocol TEXT NOT NULL,
    note TEXT NOT NULL,
    ci TEXT,
    PRIMARY KEY (run_id, name)
);
"""

_RUN_COLUMNS = (
    "label", "model", "preset", "dataset", "profile", "seed", "options", "config",
    "protocol", "versions", "device", "wall_time_s", "status", "reason", "run_dir",
    "input_kind", "note", "created",
)
_JSON_COLUMNS = frozenset({"options", "config", "protocol", "versions"})


class ResultsStore:
    """All runs of one output root, in one SQLite file."""

    def __init__(self, path: Path):
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise BenchError(
                f"cannot create the folder of the results store {self.path}: {exc}; "
                "choose an output folder you can write to"
            ) from exc
        self._create_schema()

    # -- public API -------------------------------------------------------

    def add_run(self, record: RunRecord) -> int:
        """Insert the run and all its metric rows at once; fills ``record.id`` and ``created``."""
        return self._insert(record, replace=False)

    def put_run(self, record: RunRecord) -> int:
        """:meth:`add_run`, replacing what the store holds for the same run folder: storing a run
        twice (a process killed after its row was written, then resumed) leaves one row."""
        return self._insert(record, replace=True)

    # -- run folders: stored relative to the store's folder, so that an output root moves whole

    def _stored_dir(self, run_dir: str) -> str:
        """How a run folder is written: relative to the store's folder when it lies under it
        (``runs/<name>``), else absolute; either way independent of the working folder."""
        if not run_dir:
            return run_dir
        path = Path(run_dir).absolute()
        try:
            return path.relative_to(self.path.parent.absolute()).as_posix()
        except ValueError:
            return str(path)

    def _found_dir(self, stored: str) -> str:
        """A stored run folder as a path that works from any working folder: relative ones under
        the store's folder; rows an older bench wrote relative to the folder it ran in
        (``results/runs/<name>``) are found by their ``runs/<name>`` tail."""
        path = Path(stored)
        if not stored or path.is_absolute():
            return stored
        here = self.path.parent.absolute()
        parts = path.parts
        if "runs" in parts and not (here / path).exists():
            tail = Path(*parts[len(parts) - 1 - parts[::-1].index("runs"):])
            if (here / tail).exists():
                return str(here / tail)
        return str(here / path)

    def _dir_forms(self, run_dir: str) -> list[str]:
        """Every way a row may have stored ``run_dir`` (as given, relative to the store, absolute)."""
        return list(dict.fromkeys([str(run_dir), self._stored_dir(run_dir), str(Path(run_dir).absolute())]))

    def _insert(self, record: RunRecord, replace: bool) -> int:
        created = record.created or utc_now()
        row = _run_row(record, created)
        row[_RUN_COLUMNS.index("run_dir")] = self._stored_dir(record.run_dir)
        placeholders = ", ".join("?" for _ in _RUN_COLUMNS)
        with self._write() as conn:
            if replace:
                forms = self._dir_forms(record.run_dir)
                old = [(r[0],) for r in conn.execute(
                    f"SELECT id FROM runs WHERE run_dir IN ({', '.join('?' * len(forms))})", forms)]
                conn.executemany("DELETE FROM metrics WHERE run_id = ?", old)
                conn.executemany("DELETE FROM runs WHERE id = ?", old)
            run_id = conn.execute(f"INSERT INTO runs ({', '.join(_RUN_COLUMNS)}) VALUES ({placeholders})",
                                  row).lastrowid
            _insert_metrics(conn, run_id, record.metrics)
        record.id, record.created = run_id, created
        return run_id

    def set_metrics(self, run_id: int, metrics: dict[str, MetricValue]) -> None:
        """Replace every metric of a run (after a re-evaluation)."""
        with self._write() as conn:
            if conn.execute("SELECT 1 FROM runs WHERE id = ?", (run_id,)).fetchone() is None:
                raise BenchError(
                    f"no run with id {run_id} in the results store {self.path}; "
                    "list the stored runs to find the right id"
                )
            conn.execute("DELETE FROM metrics WHERE run_id = ?", (run_id,))
            _insert_metrics(conn, run_id, metrics)

    def merge_metrics(self, run_id: int, metrics: dict[str, MetricValue]) -> dict[str, MetricValue]:
        """Replace the given metrics of a run and keep its others (a re-evaluation of some metrics);
        returns the run's metrics after the merge."""
        with self._write() as conn:
            if conn.execute("SELECT 1 FROM runs WHERE id = ?", (run_id,)).fetchone() is None:
                raise BenchError(f"no run with id {run_id} in the results store {self.path}; "
                                 "list the stored runs to find the right id")
            merged = {**_load_metrics(conn, [run_id])[run_id], **metrics}  # stored order, new columns last
            conn.execute("DELETE FROM metrics WHERE run_id = ?", (run_id,))
            _insert_metrics(conn, run_id, merged)
            return merged

    def keep_unmeasured(self, record: RunRecord, same: Callable[[RunRecord], bool] | None = None) -> RunRecord:
        """Give ``record`` the metrics its newest stored ok row (same dataset, label and protocol,
        and ``same`` of it true) has and it lacks, as ``merge_metrics`` does for `bench evaluate`:
        measuring a row again with fewer metrics never empties its other cells."""
        for old in self.runs(dataset=record.dataset, status="ok"):  # newest first
            if old.label == record.label and old.protocol == record.protocol and (same is None or same(old)):
                record.metrics = {**old.metrics, **record.metrics}  # stored order, new columns last
                break
        return record

    def runs(self, dataset: str | None = None, status: str | None = None) -> list[RunRecord]:
        """Stored runs, newest first, optionally only one dataset and/or status."""
        clauses, args = [], []
        if dataset is not None:
            clauses.append("dataset = ?")
            args.append(dataset)
        if status is not None:
            clauses.append("status = ?")
            args.append(status)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        return self._select(f"{where} ORDER BY created DESC, id DESC", args)

    def latest(self, dataset: str | None = None) -> list[RunRecord]:
        """What the leaderboard shows, newest first: the newest successful run of every row (see
        :func:`row_key`) and, beside it, the newest run of each other seed of that row trained
        with the same config (see :mod:`benchmark.results.aggregate`)."""
        groups = seed_groups(self.runs(dataset=dataset, status="ok"))
        return sorted((r for group in groups.values() for r in group), key=newest_key, reverse=True)

    def find_by_run_dir(self, run_dir: str) -> RunRecord | None:
        """The newest run written to ``run_dir``, or None."""
        forms = self._dir_forms(str(run_dir))
        found = self._select(f"WHERE run_dir IN ({', '.join('?' * len(forms))}) ORDER BY created DESC, id DESC "
                             f"LIMIT 1", forms)
        return found[0] if found else None

    def datasets(self) -> list[str]:
        with self._read() as conn:
            rows = conn.execute("SELECT DISTINCT dataset FROM runs ORDER BY dataset").fetchall()
        return [r[0] for r in rows]

    # -- connections --------------------------------------------------------

    def _create_schema(self) -> None:
        with self._connection() as conn:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise BenchError(
                    f"the results store {self.path} was written by a newer version of bench "
                    f"(schema {version}, this one reads {SCHEMA_VERSION}); upgrade bench or use another file"
                )
            if conn.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                _to_wal(conn)
        with self._write() as conn:
            _run_script(conn, _SCHEMA)
            if "ci" not in {row[1] for row in conn.execute("PRAGMA table_info(metrics)")}:
                conn.execute("ALTER TABLE metrics ADD COLUMN ci TEXT")  # a version-1 store
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    @contextlib.contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        """A fresh autocommit connection; sqlite errors become BenchErrors naming the file."""
        try:
            conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
        except sqlite3.Error as exc:
            raise self._error(exc) from exc
        try:
            conn.execute("PRAGMA foreign_keys = ON")
            yield conn
        except sqlite3.DatabaseError as exc:
            if not _is_file_problem(exc):
                raise
            raise self._error(exc) from exc
        finally:
            conn.close()

    @contextlib.contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction; the write lock is taken before anything is read."""
        with self._connection() as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    @contextlib.contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        with self._connection() as conn:
            yield conn

    def _error(self, exc: sqlite3.Error) -> BenchError:
        text = str(exc)
        if "not a database" in text or "malformed" in text:
            return BenchError(
                f"the results store {self.path} is not a readable SQLite database ({text}); "
                "move or delete that file (a new, empty store is created in its place) "
                "or choose another results file"
            )
        if "locked" in text or "busy" in text:
            return BenchError(
                f"the results store {self.path} stayed locked by another process for more than "
                f"{BUSY_TIMEOUT_S:.0f} s ({text}); wait for the other run to finish and try again"
            )
        return BenchError(
            f"cannot use the results store {self.path} ({text}); "
            "check that the file and its folder are writable"
        )

    def _select(self, tail: str, args: list[Any]) -> list[RunRecord]:
        sql = f"SELECT id, {', '.join(_RUN_COLUMNS)} FROM runs {tail}"
        with self._read() as conn:
            conn.execute("BEGIN")  # one snapshot for runs and their metrics
            rows = conn.execute(sql, args).fetchall()
            metrics = _load_metrics(conn, [r[0] for r in rows])
            conn.execute("COMMIT")
        records = [_record_from_row(row, metrics.get(row[0], {})) for row in rows]
        for record in records:
            record.run_dir = self._found_dir(record.run_dir)
        return records


# -- row conversion ----------------------------------------------------------


def _to_wal(conn: sqlite3.Connection) -> None:
    """Switch a new store to WAL (persistent: once per file). SQLite does not wait on its busy
    timeout for this, so two processes creating one store at the same moment retry here."""
    deadline = time.monotonic() + BUSY_TIMEOUT_S
    while True:
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def _is_file_problem(exc: sqlite3.DatabaseError) -> bool:
    """Corrupt, locked or unwritable file, as opposed to a mistake in this module's SQL."""
    return type(exc) is sqlite3.DatabaseError or isinstance(exc, sqlite3.OperationalError)


def _run_script(conn: sqlite3.Connection, script: str) -> None:
    """Run several statements inside the caller's transaction (executescript would commit)."""
    for statement in script.split(";"):
        if statement.strip():
            conn.execute(statement)


def _to_json(value: Any) -> str:
    return json.dumps(value, default=str, allow_nan=True)


def _run_row(record: RunRecord, created: str) -> list[Any]:
    row = []
    for name in _RUN_COLUMNS:
        value = created if name == "created" else getattr(record, name)
        row.append(_to_json(value) if name in _JSON_COLUMNS else value)
    return row


def _record_from_row(row: tuple, metrics: dict[str, MetricValue]) -> RunRecord:
    fields = dict(zip(_RUN_COLUMNS, row[1:]))
    for name in _JSON_COLUMNS:
        fields[name] = json.loads(fields[name])
    return RunRecord(**fields, metrics=metrics, id=row[0])


def _insert_metrics(conn: sqlite3.Connection, run_id: int, metrics: dict[str, MetricValue]) -> None:
    rows = []
    for position, (name, m) in enumerate(metrics.items()):
        value, note = _storable(m)
        ci = None if m.ci is None else _to_json(list(m.ci))
        rows.append((run_id, position, name, value, m.direction, _to_json(m.protocol), note, ci))
    conn.executemany(
        "INSERT INTO metrics (run_id, position, name, value, direction, protocol, note, ci) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        rows,
    )


def _storable(metric: MetricValue) -> tuple[float | None, str]:
    """SQLite stores NaN as NULL, so a NaN becomes a missing value that says so."""
    if metric.value is None:
        return None, metric.note
    value = float(metric.value)
    if math.isnan(value):
        return None, metric.note or "the metric returned NaN"
    return value, metric.note


def _load_metrics(conn: sqlite3.Connection, run_ids: list[int]) -> dict[int, dict[str, MetricValue]]:
    out: dict[int, dict[str, MetricValue]] = {run_id: {} for run_id in run_ids}
    for start in range(0, len(run_ids), _IDS_PER_QUERY):
        chunk = run_ids[start:start + _IDS_PER_QUERY]
        rows = conn.execute(
            "SELECT run_id, name, value, direction, protocol, note, ci FROM metrics "
            f"WHERE run_id IN ({', '.join('?' for _ in chunk)}) ORDER BY run_id, position",
            chunk,
        ).fetchall()
        for run_id, name, value, direction, protocol, note, ci in rows:
            out[run_id][name] = MetricValue(value, direction, json.loads(protocol), note,
                                            None if ci is None else json.loads(ci))
    return out
