"""Spot-check verdicts on answers, in SQLite: what reviewers approved or flagged, and why.

    store = SpotChecks.open(settings.home / SPOTCHECKS_FILE)      # creates or verifies the schema
    store.record(Verdict(question=..., verdict="flag", reason="wrong_fact", ...))   # one transaction
    rnd = store.start_round("heldout", n=10, seed=0, reviewer="ana", prompts=SAMPLE_EVAL_PROMPTS)
    store.export_jsonl(store.verdicts(verdict="flag"))                # evaluation cases / training candidates

Each verdict keeps what is needed to reproduce and reuse it: the question, the retrieved product ids,
both answers where both were shown, the adapter name and version, the index name and version, the
judged answer's snapshot (rag/answer.py: index version, adapter version and weights sha256, base, brand
kit sha256, decoding settings; none for verdicts stored before schema version 2), the verdict, reason,
note, reviewer and time. A version-1 file gains the snapshot column on open, in one transaction. Rounds sample N questions (seeded) from the held-out prompts
file, from questions recently asked in the app, or from an uploaded JSONL.

The file uses WAL (readers never block the writer), one short IMMEDIATE transaction per write, and a
schema_version table checked on open: a file from another schema, or not a database, is refused with
its path. A connection per call, so any thread (each Streamlit session has its own) may use a store.
A write that fails (the disk is full, the file is locked for too long) is rolled back whole and refused
with one line naming the file; every verdict committed before it stays, and a process killed mid-write
loses only its uncommitted row (tests/onbrand/test_faults_*.py).
"""

from __future__ import annotations

import json
import random
import sqlite3
import threading
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterable, Iterator

from core.errors import UserError
from core.refs import adapter_key, split_key
from rag.answer import Answer

SCHEMA_VERSION = 2  # 2: verdicts.snapshot_json
SPOTCHECKS_FILE = "spotchecks.sqlite3"  # under the onbrand home
VERDICTS = ("approve", "flag")
REASONS = ("wrong_name", "wrong_fact", "missing_disclaimer", "tone", "format", "other")
SOURCES = ("heldout", "recent", "upload")
MAX_NOTE_CHARS = 2000  # a paragraph; longer belongs in an issue tracker
MAX_REVIEWER_CHARS = 100
MAX_UPLOAD_BYTES = 1024 * 1024  # a JSONL of questions for a round: ~5,000 questions
MAX_ROUND = 200  # questions in one round; a reviewer's sitting is far fewer
RECENT_POOL = 500  # a "recent" round samples among the last this-many distinct questions

_SCHEMA = f"""
CREATE TABLE schema_version (version INTEGER NOT NULL);
CREATE TABLE questions (
    id INTEGER PRIMARY KEY,
    question TEXT NOT NULL,
    asked_at TEXT NOT NULL
);
CREATE TABLE rounds (
    id INTEGER PRIMARY KEY,
    created_at TEXT NOT NULL,
    reviewer TEXT NOT NULL,
    source TEXT NOT NULL CHECK (source IN {SOURCES!r}),
    seed INTEGER NOT NULL,
    cases TEXT NOT NULL
);
CREATE TABLE verdicts (
    id INTEGER PRIMARY KEY,
    created_at TEXT NOT NULL,
    reviewer TEXT NOT NULL CHECK (length(reviewer) > 0),
    question TEXT NOT NULL,
    case_json TEXT NOT NULL,
    retrieved_ids TEXT NOT NULL,
    judged TEXT NOT NULL CHECK (judged IN ('base', 'adapter')),
    base_answer TEXT,
    adapter_answer TEXT,
    adapter TEXT,
    adapter_version TEXT,
    index_name TEXT NOT NULL,
    index_version TEXT NOT NULL,
    verdict TEXT NOT NULL CHECK (verdict IN {VERDICTS!r}),
    reason TEXT CHECK (reason IS NULL OR reason IN {REASONS!r}),
    note TEXT NOT NULL,
    round_id INTEGER REFERENCES rounds(id),
    snapshot_json TEXT
);
CREATE INDEX verdicts_by_time ON verdicts(created_at);
CREATE INDEX questions_by_time ON questions(asked_at);
"""
_TABLES = {"schema_version": {"version"}, "questions": {"id", "question", "asked_at"},
           "rounds": {"id", "created_at", "reviewer", "source", "seed", "cases"},
           "verdicts": {"id", "created_at", "reviewer", "question", "case_json", "retrieved_ids", "judged",
                        "base_answer", "adapter_answer", "adapter", "adapter_version", "index_name",
                        "index_version", "verdict", "reason", "note", "round_id", "snapshot_json"}}
_V1_VERDICTS = _TABLES["verdicts"] - {"snapshot_json"}


class SpotCheckError(UserError):
    pass


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


@dataclass(frozen=True)
class Verdict:
    """One reviewer's verdict on one answer. judged says which answer: "adapter" or "base"."""
    question: str
    retrieved_ids: tuple[str, ...]
    judged: str
    base_answer: str | None
    adapter_answer: str | None
    adapter: str | None  # name; None when the base answered alone
    adapter_version: str | None
    index_name: str
    index_version: str
    verdict: str
    reason: str | None
    note: str
    reviewer: str
    case: dict = field(default_factory=dict)  # the held-out case (id, product_ids, expectations) when known
    round_id: int | None = None
    snapshot: dict | None = None  # the judged answer's Snapshot.to_json(); None for verdicts from before it
    id: int | None = None  # set once stored
    created_at: str | None = None

    @classmethod
    def on(cls, judged_answer: Answer, *, judged: str, verdict: str, reason: str | None, note: str, reviewer: str,
           base_answer: str | None = None, adapter_answer: str | None = None, case: dict | None = None,
           round_id: int | None = None) -> "Verdict":
        """A verdict on a pipeline Answer: question, retrieved ids, adapter, index and snapshot from its record;
        the other column's text, when both were shown, as given."""
        snap = judged_answer.snapshot
        adapter = snap.adapter if judged == "adapter" else None
        if judged == "adapter":
            adapter_answer = judged_answer.text
        else:
            base_answer = judged_answer.text
        if snap.index is None:
            raise SpotCheckError("spot check: the answer retrieved from no index")
        return cls(question=judged_answer.question, retrieved_ids=judged_answer.retrieved_ids, judged=judged,
                   base_answer=base_answer, adapter_answer=adapter_answer,
                   adapter=adapter.name if adapter else None, adapter_version=adapter.version if adapter else None,
                   index_name=snap.index.name, index_version=snap.index.version, verdict=verdict, reason=reason,
                   note=note, reviewer=reviewer, case=case or {}, round_id=round_id, snapshot=snap.to_json())

    def __post_init__(self):
        if not self.question.strip():
            raise SpotCheckError("spot check: the question is empty")
        if self.verdict not in VERDICTS:
            raise SpotCheckError(f"spot check: verdict must be one of {', '.join(VERDICTS)}, got {self.verdict!r}")
        if self.reason is not None and self.reason not in REASONS:
            raise SpotCheckError(f"spot check: reason must be one of {', '.join(REASONS)}, got {self.reason!r}")
        if self.verdict == "flag" and self.reason is None:
            raise SpotCheckError("spot check: a flag needs a reason (" + ", ".join(REASONS) + ")")
        if not self.reviewer.strip() or len(self.reviewer) > MAX_REVIEWER_CHARS:
            raise SpotCheckError(f"spot check: reviewer must be 1..{MAX_REVIEWER_CHARS} characters, "
                                 f"got {len(self.reviewer.strip())}")
        if len(self.note) > MAX_NOTE_CHARS:
            raise SpotCheckError(f"spot check: the note is {len(self.note)} characters; the limit is {MAX_NOTE_CHARS}")
        if self.judged not in ("base", "adapter"):
            raise SpotCheckError(f"spot check: judged must be 'base' or 'adapter', got {self.judged!r}")
        if (self.adapter_answer if self.judged == "adapter" else self.base_answer) is None:
            raise SpotCheckError(f"spot check: judged is {self.judged!r} but there is no {self.judged} answer")
        if self.judged == "adapter" and not (self.adapter and self.adapter_version):
            raise SpotCheckError("spot check: an adapter answer needs the adapter name and version")
        if self.snapshot is not None:  # the record must say what the columns say
            pinned = self.snapshot.get("adapter") or {}
            index = self.snapshot.get("index") or {}
            said = (pinned.get("name"), pinned.get("version"), index.get("name"), index.get("version"))
            columns = (self.adapter if self.judged == "adapter" else None,
                       self.adapter_version if self.judged == "adapter" else None, self.index_name, self.index_version)
            if said != columns:
                raise SpotCheckError(f"spot check: the snapshot names adapter {said[0]}@{said[1]} and index "
                                     f"{said[2]}/{said[3]}, the verdict {columns[0]}@{columns[1]} and "
                                     f"{columns[2]}/{columns[3]}")

    @property
    def answer(self) -> str:
        return self.adapter_answer if self.judged == "adapter" else self.base_answer

    def to_case(self) -> dict:
        """An export line: an evaluation case (eval_prompts.jsonl keys where known) with the verdict.

        product_ids are the case's when the question came from the held-out file, else the retrieved
        ids (product_ids_from says which): a reviewer may have flagged the retrieval itself."""
        case = dict(self.case)
        from_case = "product_ids" in case
        out = {"id": case.pop("id", None) or f"spot-{self.id:06d}", "question": self.question,
               "product_ids": case.pop("product_ids", list(self.retrieved_ids)),
               "product_ids_from": "case" if from_case else "retrieved", **case}
        out.update(retrieved_ids=list(self.retrieved_ids), verdict=self.verdict, reason=self.reason,
                   note=self.note, reviewer=self.reviewer, created_at=self.created_at, judged=self.judged,
                   answer=self.answer, answers={"base": self.base_answer, "adapter": self.adapter_answer},
                   adapter=adapter_key(self.adapter, self.adapter_version) if self.adapter else None,
                   index=f"{self.index_name}/{self.index_version}", spotcheck_id=self.id, round_id=self.round_id,
                   snapshot=self.snapshot)
        return out


@dataclass(frozen=True)
class Round:
    id: int
    source: str
    seed: int
    reviewer: str
    cases: tuple[dict, ...]  # each has "question"; held-out rows keep their id, product_ids, expectations


def parse_questions(data: bytes, name: str, max_bytes: int = MAX_UPLOAD_BYTES) -> list[dict]:
    """An uploaded JSONL of questions ({"question": ...} per line, other keys kept) for a round."""
    if len(data) > max_bytes:
        raise SpotCheckError(f"{name}: {len(data):,} bytes; the limit for a question file is {max_bytes:,}")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise SpotCheckError(f"{name}: not UTF-8 text (byte {e.start})") from None
    rows = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as e:
            raise SpotCheckError(f"{name}:{n}: not a JSON object ({e.msg})") from None
        if not isinstance(row, dict) or not isinstance(row.get("question"), str) or not row["question"].strip():
            raise SpotCheckError(f"{name}:{n}: field 'question' must be a non-empty string")
        rows.append(row)
    if not rows:
        raise SpotCheckError(f"{name}: no questions")
    return rows


class SpotChecks:
    def __init__(self, path: Path):
        self.path = Path(path)
        self._write_lock = threading.Lock()  # one writer per process; SQLite serialises across processes

    @classmethod
    def open(cls, path: Path) -> "SpotChecks":
        """Create the file with its schema, or verify an existing one (schema version, tables, integrity)."""
        store = cls(path)
        store.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            with store._transaction() as con:  # two first opens at once: one creates, the other verifies
                tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
                if not tables:
                    for statement in filter(str.strip, _SCHEMA.split(";")):
                        con.execute(statement)
                    con.execute("INSERT INTO schema_version VALUES (?)", (SCHEMA_VERSION,))
                else:
                    store._upgrade(con, tables)
                    store._verify(con, tables)
            with store._connection() as con:
                con.execute("PRAGMA journal_mode=WAL")  # persistent; outside any transaction
        except sqlite3.DatabaseError as e:
            raise SpotCheckError(f"{store.path}: not a usable spot-check database ({e})") from None
        return store

    def _upgrade(self, con: sqlite3.Connection, tables: set[str]) -> None:
        """Schema 1 -> 2 inside open's transaction: verdicts gain snapshot_json (NULL for the ones stored)."""
        if "schema_version" not in tables or "verdicts" not in tables:
            return
        versions = [r[0] for r in con.execute("SELECT version FROM schema_version")]
        have = {r[1] for r in con.execute("PRAGMA table_info(verdicts)")}
        if versions == [1] and have == _V1_VERDICTS:
            con.execute("ALTER TABLE verdicts ADD COLUMN snapshot_json TEXT")
            con.execute("UPDATE schema_version SET version = 2")

    def _verify(self, con: sqlite3.Connection, tables: set[str]) -> None:
        missing = sorted(set(_TABLES) - tables)
        if missing:
            raise SpotCheckError(f"{self.path}: not a spot-check database (no table {missing[0]})")
        versions = [r[0] for r in con.execute("SELECT version FROM schema_version")]
        if versions != [SCHEMA_VERSION]:
            raise SpotCheckError(f"{self.path}: schema_version is {versions}, this onbrand reads "
                                 f"[{SCHEMA_VERSION}]")
        for table, cols in _TABLES.items():
            have = {r[1] for r in con.execute(f"PRAGMA table_info({table})")}
            if have != cols:
                raise SpotCheckError(f"{self.path}: table {table} has columns {sorted(have)}, expected {sorted(cols)}")
        check = con.execute("PRAGMA quick_check").fetchone()[0]
        if check != "ok":
            raise SpotCheckError(f"{self.path}: integrity check failed: {check}")

    @contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        con = sqlite3.connect(self.path, timeout=30, isolation_level=None)  # explicit transactions only
        try:
            con.execute("PRAGMA foreign_keys=ON")
            yield con
        finally:
            con.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._write_lock, self._connection() as con:
            con.execute("BEGIN IMMEDIATE")
            try:
                yield con
                con.execute("COMMIT")
            except BaseException:
                if con.in_transaction:  # SQLite may have rolled back itself (SQLITE_FULL, an I/O error)
                    con.execute("ROLLBACK")
                raise

    @contextmanager
    def _writing(self, what: str) -> Iterator[sqlite3.Connection]:
        """One write transaction; an operational failure (disk full, locked, I/O) becomes one line."""
        try:
            with self._transaction() as con:
                yield con
        except sqlite3.OperationalError as e:
            full = getattr(e, "sqlite_errorcode", None) == getattr(sqlite3, "SQLITE_FULL", 13) or "full" in str(e)
            why = "the disk is full" if full else str(e)
            raise SpotCheckError(f"{self.path}: {what} was not stored ({why}); everything stored before it is "
                                 "kept: " + ("free some space and " if full else "") + "try again") from None

    # --- writes: each one transaction

    def record(self, v: Verdict) -> Verdict:
        """Store a verdict in one transaction; return it with its id and time."""
        created = _now()
        with self._writing("the verdict") as con:
            cur = con.execute(
                "INSERT INTO verdicts (created_at, reviewer, question, case_json, retrieved_ids, judged, base_answer, "
                "adapter_answer, adapter, adapter_version, index_name, index_version, verdict, reason, note, round_id, "
                "snapshot_json) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (created, v.reviewer.strip(), v.question, json.dumps(v.case, ensure_ascii=False),
                 json.dumps(list(v.retrieved_ids)), v.judged, v.base_answer, v.adapter_answer, v.adapter,
                 v.adapter_version, v.index_name, v.index_version, v.verdict, v.reason, v.note, v.round_id,
                 json.dumps(v.snapshot, sort_keys=True) if v.snapshot is not None else None))
            vid = cur.lastrowid
        return Verdict(**{**asdict(v), "retrieved_ids": tuple(v.retrieved_ids), "reviewer": v.reviewer.strip(),
                          "id": vid, "created_at": created})

    def log_question(self, question: str) -> None:
        """Remember a question asked in the app, for "recent" rounds."""
        with self._writing("the question") as con:
            con.execute("INSERT INTO questions (question, asked_at) VALUES (?, ?)", (question.strip(), _now()))

    def start_round(self, source: str, n: int, seed: int, reviewer: str, prompts: Path | None = None,
                    uploaded: list[dict] | None = None) -> Round:
        """Sample n questions (seeded) from the held-out prompts file, recent app questions or an upload."""
        if source not in SOURCES:
            raise SpotCheckError(f"round source must be one of {', '.join(SOURCES)}, got {source!r}")
        if not 1 <= n <= MAX_ROUND:
            raise SpotCheckError(f"a round has 1..{MAX_ROUND} questions, got {n}")
        if not reviewer.strip():
            raise SpotCheckError("a round needs a reviewer name")
        if source == "heldout":
            if prompts is None:
                raise SpotCheckError("a held-out round needs the prompts file")
            pool = parse_questions(Path(prompts).read_bytes(), str(prompts), max_bytes=64 * MAX_UPLOAD_BYTES)
        elif source == "recent":
            pool = [{"question": q} for q in self.recent_questions(RECENT_POOL)]
            if not pool:
                raise SpotCheckError("no questions have been asked in the app yet; choose held-out prompts")
        else:
            if not uploaded:
                raise SpotCheckError("an upload round needs a question file")
            pool = uploaded
        cases = random.Random(seed).sample(pool, min(n, len(pool)))
        with self._writing("the round") as con:
            rid = con.execute("INSERT INTO rounds (created_at, reviewer, source, seed, cases) VALUES (?, ?, ?, ?, ?)",
                              (_now(), reviewer.strip(), source, seed, json.dumps(cases, ensure_ascii=False))).lastrowid
        return Round(rid, source, seed, reviewer.strip(), tuple(cases))

    # --- reads

    def recent_questions(self, limit: int = RECENT_POOL) -> list[str]:
        """Distinct questions asked in the app, most recent first."""
        with self._connection() as con:
            rows = con.execute("SELECT question FROM questions GROUP BY question ORDER BY max(id) DESC LIMIT ?",
                               (limit,)).fetchall()
        return [r[0] for r in rows]

    def verdicts(self, verdict: str | None = None, reason: str | None = None, adapter: str | None = None,
                 reviewer: str | None = None, limit: int | None = None) -> list[Verdict]:
        """Stored verdicts, newest first, filtered by any of: verdict, reason, adapter ("name" or
        "name@version"; "" for base-only answers), reviewer."""
        where: list[tuple[str, object]] = []  # (condition, its argument or None)
        if verdict is not None:
            where.append(("verdict = ?", verdict))
        if reason is not None:
            where.append(("reason = ?", reason))
        if adapter == "":
            where.append(("adapter IS NULL", None))
        elif adapter is not None:
            name, version = split_key(adapter)
            where.append(("adapter = ?", name))
            if version:
                where.append(("adapter_version = ?", version))
        if reviewer is not None:
            where.append(("reviewer = ?", reviewer))
        args = [a for _, a in where if a is not None]
        conditions = " AND ".join(c for c, _ in where)
        sql = "SELECT * FROM verdicts" + (f" WHERE {conditions}" if where else "") + " ORDER BY id DESC"
        if limit is not None:
            sql += " LIMIT ?"
            args.append(int(limit))
        with self._connection() as con:
            con.row_factory = sqlite3.Row
            rows = con.execute(sql, args).fetchall()
        return [_verdict(r) for r in rows]

    def reviewers(self) -> list[str]:
        with self._connection() as con:
            return [r[0] for r in con.execute("SELECT DISTINCT reviewer FROM verdicts ORDER BY reviewer")]

    def adapters(self) -> list[str]:
        with self._connection() as con:
            return [adapter_key(a, v) for a, v in con.execute(
                "SELECT DISTINCT adapter, adapter_version FROM verdicts WHERE adapter IS NOT NULL ORDER BY 1, 2")]


def _verdict(r: sqlite3.Row) -> Verdict:
    return Verdict(question=r["question"], retrieved_ids=tuple(json.loads(r["retrieved_ids"])), judged=r["judged"],
                   base_answer=r["base_answer"], adapter_answer=r["adapter_answer"], adapter=r["adapter"],
                   adapter_version=r["adapter_version"], index_name=r["index_name"],
                   index_version=r["index_version"], verdict=r["verdict"], reason=r["reason"], note=r["note"],
                   reviewer=r["reviewer"], case=json.loads(r["case_json"]), round_id=r["round_id"], id=r["id"],
                   created_at=r["created_at"],
                   snapshot=json.loads(r["snapshot_json"]) if r["snapshot_json"] is not None else None)


def export_jsonl(verdicts: Iterable[Verdict]) -> str:
    """One evaluation case per line (see Verdict.to_case), oldest first."""
    rows = sorted(verdicts, key=lambda v: v.id or 0)
    return "".join(json.dumps(v.to_case(), ensure_ascii=False) + "\n" for v in rows)
