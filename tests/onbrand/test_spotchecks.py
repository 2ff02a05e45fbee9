"""The spot-check store: verdicts written transactionally with everything needed to reuse them, a
verified schema, seeded rounds, filters, and an export whose lines are evaluation cases."""

from __future__ import annotations

import json
import sqlite3
import threading

import pytest

from corpus import SAMPLE_EVAL_PROMPTS
from onbrand.spotchecks import (_SCHEMA, MAX_UPLOAD_BYTES, SCHEMA_VERSION, SpotCheckError, SpotChecks, Verdict,
                                export_jsonl, parse_questions)
from rag.answer import AdapterPin, Answer, IndexPin, Snapshot, Source


def _verdict(**kw) -> Verdict:
    base = dict(question="how much is the dome?", retrieved_ids=("QK-TNT-01", "QK-TNT-02"), judged="adapter",
                base_answer="The Dome is $249.", adapter_answer="The Quokka Dome 2 Tent is $249.00.",
                adapter="quokka", adapter_version="v0002", index_name="tiny", index_version="v0001",
                verdict="approve", reason=None, note="", reviewer="ana")
    return Verdict(**{**base, **kw})


@pytest.fixture()
def store(tmp_path):
    return SpotChecks.open(tmp_path / "spot.sqlite3")


def test_a_verdict_round_trips_with_every_field(store):
    stored = store.record(_verdict(verdict="flag", reason="wrong_fact", note="price is old", reviewer=" ana "))
    assert stored.id == 1 and stored.created_at and stored.reviewer == "ana"
    [back] = store.verdicts()
    assert back == stored
    assert back.retrieved_ids == ("QK-TNT-01", "QK-TNT-02")
    assert (back.base_answer, back.adapter_answer) == ("The Dome is $249.", "The Quokka Dome 2 Tent is $249.00.")
    assert (back.adapter, back.adapter_version, back.index_name, back.index_version) == ("quokka", "v0002", "tiny",
                                                                                         "v0001")


SNAPSHOT = Snapshot(IndexPin("tiny", "v0001"), AdapterPin("quokka", "v0002", "ab" * 32), "tiny-lm", None, "local",
                    "cd" * 32, (("max_new_tokens", 12), ("strategy", "greedy")))


def test_a_verdict_on_an_answer_keeps_its_snapshot(store):
    answer = Answer("how much is the dome?", "The Quokka Dome 2 Tent is $249.00.", "The [[name]] is [[price]].", (),
                    (Source("QK-TNT-01", "Quokka Dome 2 Tent", "overview", 0.9),
                     Source("QK-TNT-01", "Quokka Dome 2 Tent", "price", 0.8)), (), None, SNAPSHOT)
    stored = store.record(Verdict.on(answer, judged="adapter", verdict="flag", reason="tone", note="", reviewer="ana",
                                     base_answer="The Dome is $249."))
    [back] = store.verdicts()
    assert back == stored and back.snapshot == SNAPSHOT.to_json()
    assert (back.adapter, back.adapter_version, back.index_version) == ("quokka", "v0002", "v0001")
    assert back.retrieved_ids == ("QK-TNT-01",) and back.base_answer == "The Dome is $249."
    assert json.loads(export_jsonl([back]))["snapshot"]["adapter"]["weights_sha256"] == "ab" * 32
    with pytest.raises(SpotCheckError, match="the snapshot names adapter quokka@v0002 and index tiny/v0001, the "
                                             "verdict quokka@v0009"):
        _verdict(adapter_version="v0009", snapshot=SNAPSHOT.to_json())


def test_a_version_1_file_gains_the_snapshot_column_and_keeps_its_verdicts(tmp_path):
    path = tmp_path / "old.sqlite3"
    con = sqlite3.connect(path)
    v1 = _SCHEMA.replace(",\n    snapshot_json TEXT", "")
    assert "snapshot_json" not in v1
    con.executescript(v1 + "; INSERT INTO schema_version VALUES (1);")
    con.execute("INSERT INTO verdicts (created_at, reviewer, question, case_json, retrieved_ids, judged, base_answer, "
                "adapter_answer, adapter, adapter_version, index_name, index_version, verdict, reason, note) VALUES "
                "('2026-01-01T00:00:00+00:00', 'ana', 'q?', '{}', '[]', 'base', 'a', NULL, NULL, NULL, 'tiny', "
                "'v0001', 'approve', NULL, '')")
    con.commit()
    con.close()
    store = SpotChecks.open(path)
    [old] = store.verdicts()
    assert old.question == "q?" and old.snapshot is None
    assert sqlite3.connect(path).execute("SELECT version FROM schema_version").fetchall() == [(2,)]
    store.record(_verdict(snapshot=SNAPSHOT.to_json()))
    assert store.verdicts()[0].snapshot == SNAPSHOT.to_json()


def test_the_file_is_wal_with_a_schema_version(store):
    con = sqlite3.connect(store.path)
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert con.execute("SELECT version FROM schema_version").fetchall() == [(SCHEMA_VERSION,)]
    SpotChecks.open(store.path)  # reopening verifies and accepts it


def test_another_schema_or_a_non_database_is_refused_naming_the_file(store, tmp_path):
    con = sqlite3.connect(store.path)
    con.execute("UPDATE schema_version SET version = 99")
    con.commit()
    con.close()
    with pytest.raises(SpotCheckError, match=r"spot\.sqlite3: schema_version is \[99\]"):
        SpotChecks.open(store.path)
    junk = tmp_path / "junk.sqlite3"
    junk.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(SpotCheckError, match="junk.sqlite3: not a usable spot-check database"):
        SpotChecks.open(junk)
    other = tmp_path / "other.sqlite3"
    sqlite3.connect(other).execute("CREATE TABLE t (x)").connection.commit()
    with pytest.raises(SpotCheckError, match="other.sqlite3: not a spot-check database"):
        SpotChecks.open(other)


def test_invalid_verdicts_are_refused_naming_the_field():
    with pytest.raises(SpotCheckError, match="a flag needs a reason"):
        _verdict(verdict="flag")
    with pytest.raises(SpotCheckError, match="reason must be one of"):
        _verdict(verdict="flag", reason="ugly")
    with pytest.raises(SpotCheckError, match="verdict must be one of"):
        _verdict(verdict="maybe")
    with pytest.raises(SpotCheckError, match="reviewer must be"):
        _verdict(reviewer="  ")
    with pytest.raises(SpotCheckError, match="no adapter answer"):
        _verdict(adapter_answer=None)
    with pytest.raises(SpotCheckError, match="the note is 2001 characters"):
        _verdict(note="x" * 2001)


def test_a_failed_write_leaves_nothing_behind(store, monkeypatch):
    store.record(_verdict())
    bad = _verdict()
    object.__setattr__(bad, "verdict", "maybe")  # past the dataclass check: the table's CHECK refuses it
    with pytest.raises(sqlite3.IntegrityError):
        store.record(bad)
    assert [v.id for v in store.verdicts()] == [1]
    store.record(_verdict())  # the store is still usable: the failed transaction was rolled back
    assert len(store.verdicts()) == 2


def test_concurrent_writers_each_get_their_row(store):
    errors = []

    def write(i):
        try:
            other = SpotChecks.open(store.path)  # separate store objects, as separate processes would have
            for j in range(15):
                other.record(_verdict(reviewer=f"r{i}", note=f"{i}-{j}"))
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=write, args=(i,)) for i in range(6)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert not errors
    rows = store.verdicts()
    assert len(rows) == 90 and len({v.id for v in rows}) == 90
    assert sorted(v.note for v in rows) == sorted(f"{i}-{j}" for i in range(6) for j in range(15))


def test_filters(store):
    store.record(_verdict())
    store.record(_verdict(verdict="flag", reason="tone", reviewer="bo"))
    store.record(_verdict(judged="base", adapter=None, adapter_version=None, adapter_answer=None,
                          verdict="flag", reason="wrong_fact"))
    store.record(_verdict(adapter_version="v0001", verdict="flag", reason="tone"))
    assert [v.id for v in store.verdicts(verdict="flag")] == [4, 3, 2]
    assert [v.id for v in store.verdicts(reason="tone")] == [4, 2]
    assert [v.id for v in store.verdicts(adapter="quokka@v0002")] == [2, 1]
    assert [v.id for v in store.verdicts(adapter="quokka")] == [4, 2, 1]
    assert [v.id for v in store.verdicts(adapter="")] == [3]
    assert [v.id for v in store.verdicts(reviewer="bo")] == [2]
    assert [v.id for v in store.verdicts(verdict="flag", reason="tone", reviewer="ana")] == [4]
    assert store.reviewers() == ["ana", "bo"]
    assert store.adapters() == ["quokka@v0001", "quokka@v0002"]


def test_rounds_are_seeded_samples_of_the_held_out_prompts(store):
    a = store.start_round("heldout", 5, seed=7, reviewer="ana", prompts=SAMPLE_EVAL_PROMPTS)
    b = store.start_round("heldout", 5, seed=7, reviewer="ana", prompts=SAMPLE_EVAL_PROMPTS)
    c = store.start_round("heldout", 5, seed=8, reviewer="ana", prompts=SAMPLE_EVAL_PROMPTS)
    assert a.cases == b.cases and a.cases != c.cases and (a.id, b.id) == (1, 2)
    assert len(a.cases) == 5 and len({x["id"] for x in a.cases}) == 5
    every = {json.loads(line)["id"] for line in SAMPLE_EVAL_PROMPTS.read_text().splitlines() if line.strip()}
    assert {x["id"] for x in a.cases} <= every


def test_recent_rounds_sample_questions_asked_in_the_app(store):
    with pytest.raises(SpotCheckError, match="no questions have been asked"):
        store.start_round("recent", 3, seed=0, reviewer="ana")
    for q in ["q1", "q2", "q1", "q3"]:
        store.log_question(q)
    assert store.recent_questions() == ["q3", "q1", "q2"]
    rnd = store.start_round("recent", 10, seed=0, reviewer="ana")
    assert sorted(x["question"] for x in rnd.cases) == ["q1", "q2", "q3"]


def test_uploaded_question_files_are_bounded_and_checked():
    rows = parse_questions(b'{"question": "is the dome waterproof?", "id": "u1"}\n\n{"question": "stove?"}\n', "q.jsonl")
    assert [r["question"] for r in rows] == ["is the dome waterproof?", "stove?"] and rows[0]["id"] == "u1"
    with pytest.raises(SpotCheckError, match=f"q.jsonl: {MAX_UPLOAD_BYTES + 1:,} bytes; the limit"):
        parse_questions(b"x" * (MAX_UPLOAD_BYTES + 1), "q.jsonl")
    with pytest.raises(SpotCheckError, match="q.jsonl:2: field 'question'"):
        parse_questions(b'{"question": "ok"}\n{"q": "no"}\n', "q.jsonl")
    with pytest.raises(SpotCheckError, match="q.jsonl:1: not a JSON object"):
        parse_questions(b"{nope\n", "q.jsonl")


def test_export_lines_are_evaluation_cases(store):
    case = json.loads(SAMPLE_EVAL_PROMPTS.read_text().splitlines()[0])
    rnd = store.start_round("heldout", 1, seed=0, reviewer="ana", prompts=SAMPLE_EVAL_PROMPTS)
    store.record(_verdict(question=case["question"], case={k: v for k, v in case.items() if k != "question"},
                          verdict="flag", reason="missing_disclaimer", note="no price note", round_id=rnd.id))
    store.record(_verdict())  # a chat question: no case, its retrieved ids stand in
    lines = [json.loads(x) for x in export_jsonl(store.verdicts()).splitlines()]
    held, chat = lines
    for key, value in case.items():  # every key of the held-out case survives, unchanged
        assert held[key] == value
    assert held["product_ids_from"] == "case" and held["round_id"] == rnd.id
    assert (held["verdict"], held["reason"], held["note"], held["reviewer"]) == ("flag", "missing_disclaimer",
                                                                               "no price note", "ana")
    assert held["answer"] == held["answers"]["adapter"] == "The Quokka Dome 2 Tent is $249.00."
    assert held["adapter"] == "quokka@v0002" and held["index"] == "tiny/v0001"
    assert chat["id"] == "spot-000002" and chat["product_ids"] == ["QK-TNT-01", "QK-TNT-02"]
    assert chat["product_ids_from"] == "retrieved" and chat["question"] == "how much is the dome?"


def test_cli_exports_filtered_verdicts(tmp_path, capsys):
    from onbrand.cli import main
    from onbrand.spotchecks import SPOTCHECKS_FILE

    assert main(["--home", str(tmp_path), "spotchecks", "export"]) == 2
    assert "no spot checks recorded yet" in capsys.readouterr().err
    store = SpotChecks.open(tmp_path / SPOTCHECKS_FILE)
    store.record(_verdict())
    store.record(_verdict(verdict="flag", reason="tone", note="too chatty"))
    out = tmp_path / "flags.jsonl"
    assert main(["--home", str(tmp_path), "spotchecks", "export", "--verdict", "flag", "--out", str(out)]) == 0
    [line] = [json.loads(x) for x in out.read_text().splitlines()]
    assert (line["verdict"], line["reason"], line["note"]) == ("flag", "tone", "too chatty")
    capsys.readouterr()
    assert main(["--home", str(tmp_path), "spotchecks", "export", "--adapter", "quokka@v0002"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 2
