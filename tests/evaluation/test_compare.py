"""eval-compare: a re-run reproduces a reference scorecard when every figure falls in the reference's interval."""

from __future__ import annotations

import json
from dataclasses import asdict

import pytest

from evaluation.compare import reproduce
from onbrand.cli import main

from .test_scorecard import _score


def _doc(adapter="quokka@v0001", answered=0.8, clean=0.95, answers=("a", "b")):
    return {"adapter": adapter,
            "summary": {"rag_adapter": {"answered": {"value": answered, "lo": 0.7, "hi": 0.9, "n": 10},
                                        "clean": {"value": clean, "lo": 0.9, "hi": 1.0, "n": 10},
                                        "format_ok": {"value": None, "lo": None, "hi": None, "n": 0}}},
            "answers": [{"id": f"ev-{i}", "variant": "rag_adapter", "answer": a} for i, a in enumerate(answers)]}


def test_every_figure_inside_the_reference_interval_reproduces_it():
    got = reproduce(_doc(), _doc(answered=0.7, clean=1.0, answers=("a", "c")))
    assert got["metrics"] == 2 and got["outside"] == []  # a metric that never applied is not compared
    assert got["identical_answers"] == {"rag_adapter": [1, 2]}


def test_a_figure_outside_is_named_and_the_command_exits_1(tmp_path, capsys):
    got = reproduce(_doc(), _doc(answered=0.65))
    assert [(r["metric"], r["run"], r["lo"]) for r in got["outside"]] == [("answered", 0.65, 0.7)]
    ref, run = tmp_path / "ref.json", tmp_path / "run.json"
    ref.write_text(json.dumps(_doc()))
    run.write_text(json.dumps(_doc(answered=0.65)))
    assert main(["eval-compare", str(ref), str(run)]) == 1
    assert json.loads(capsys.readouterr().out)["outside"][0]["metric"] == "answered"
    run.write_text(json.dumps(_doc()))
    assert main(["eval-compare", str(ref), str(run)]) == 0


def test_scorecards_of_different_adapters_are_refused(tmp_path, capsys):
    with pytest.raises(ValueError, match="different adapters: quokka@v0001 and quokka@v0002"):
        reproduce(_doc(), _doc(adapter="quokka@v0002"))
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    assert main(["eval-compare", str(bad), str(bad)]) == 2
    assert "bad.json: not a readable scorecard.json" in capsys.readouterr().err


# --- the paired report, from each answer's stored score ------------------------------------------------------

def _scored(answered: list[bool], lo: float, hi: float) -> dict:
    """A scorecard of len(answered) RAG + adapter answers that differ only in `answered`, their scores stored as
    scorecard.json stores them (asdict, then JSON: tuples as lists), its summary the value and the given
    interval."""
    def score(i: int, ok: bool) -> dict:
        s = _score(f"ev-{i}", hit_at_k=None, answered=ok, unanswered=() if ok else ("FH-X price $1.00",))
        return json.loads(json.dumps(asdict(s)))

    value = round(sum(answered) / len(answered), 4)
    return {"adapter": "quokka@v0001",
            "summary": {"rag_adapter": {"answered": {"value": value, "lo": lo, "hi": hi, "n": len(answered)}}},
            "answers": [{"id": f"ev-{i}", "variant": "rag_adapter", "answer": str(ok), "score": score(i, ok)}
                        for i, ok in enumerate(answered)]}


def test_stored_scores_load_back_as_they_were_scored():
    from evaluation.metrics import AnswerScore

    stored = _scored([True, False], 0.0, 1.0)["answers"][1]["score"]
    assert isinstance(stored["unanswered"], list)
    back = AnswerScore.from_json({**stored, "a_field_of_a_later_version": 1})
    assert back.unanswered == ("FH-X price $1.00",) and back.answered is False and back.case_id == "ev-1"
    assert AnswerScore.from_json({k: v for k, v in stored.items() if k != "clean"}).clean is True  # a default


def test_one_changed_answer_outside_a_degenerate_interval_is_not_a_significant_change():
    """0 of 40 has the percentile interval [0, 0]: one answer that changed is outside it, and the paired report
    says it is one prompt (the sign test's p is 1)."""
    ref = _scored([False] * 40, 0.0, 0.0)
    run = _scored([True] + [False] * 39, 0.0, 0.0)
    got = reproduce(ref, run)
    assert [r["metric"] for r in got["outside"]] == ["answered"]
    paired = got["rows"][0]["paired"]
    assert paired["fixed"] == ["ev-0"] and paired["broken"] == [] and paired["p"] == 1.0
    assert paired["diff"] == 0.025 and paired["lo"] == 0.0 and got["significant"] == []


def test_many_answers_broken_one_way_are_significant_though_inside_the_reference_interval():
    ref = _scored([True] * 30 + [False] * 10, 0.5, 0.9)
    run = _scored([True] * 20 + [False] * 20, 0.5, 0.9)  # 10 broken, none fixed: 0.5 is still inside
    got = reproduce(ref, run)
    assert got["outside"] == []
    [row] = got["significant"]
    assert row["paired"]["broken"] == [f"ev-{i}" for i in range(20, 30)] and row["paired"]["fixed"] == []
    assert row["paired"]["p"] < 0.01 and row["paired"]["hi"] < 0 and row["paired"]["diff"] == -0.25


def test_a_few_changes_all_one_way_need_the_sign_test_too():
    """4 broken and none fixed: the bootstrap interval leaves out 0 (a resample draws one of the 4 almost
    always), the exact sign test gives p = 0.125, so the figure is not listed as significant."""
    ref = _scored([True] * 53, 0.9, 1.0)
    run = _scored([False] * 4 + [True] * 49, 0.9, 1.0)
    paired = reproduce(ref, run)["rows"][0]["paired"]
    assert paired["hi"] < 0 and paired["p"] == 0.125
    assert reproduce(ref, run)["significant"] == []


def test_scorecards_without_stored_scores_get_no_paired_report():
    got = reproduce(_doc(), _doc(answered=0.7))
    assert got["significant"] is None and all("paired" not in r for r in got["rows"])
