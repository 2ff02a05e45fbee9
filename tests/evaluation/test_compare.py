"""eval-compare: a re-run reproduces a reference scorecard when every figure falls in the reference's interval."""

from __future__ import annotations

import json

import pytest

from evaluation.compare import reproduce
from onbrand.cli import main


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
