"""The ship gate on hand-made summaries. Every check, margin, tolerance, headroom share, reference set and
target decides a test: each rule is pinned at its boundary (exactly at the bar passes, a hair worse fails),
so moving any GateConfig default or comparison fails one of these tests."""

import json
from dataclasses import asdict

import pytest

from evaluation.gate import GateConfig, RecordError, bind_scorecard, gate, verify_recorded

METRICS = ("approved_name_rate", "deprecated_rate", "disclaimer_compliance", "grounded", "format_ok",
           "not_in_catalog_ok", "answered", "contradicted", "clean")
SIMPLER = ("base", "prompt", "rag", "rag_prompt")  # written out: the gate's own tuple is what is under test
HAIR = 0.0001  # the summary rounds rates to 4 decimals: the smallest step a real scorecard can show


def summary(**variants):
    """variants: name -> dict of metric -> value; a metric left out of the dict is absent from the row."""
    return {v: {m: {"value": x, "lo": None, "hi": None, "n": 1} for m, x in vals.items()}
            for v, vals in variants.items()}


GOOD_BASE = dict(approved_name_rate=0.6, deprecated_rate=0.3, disclaimer_compliance=0.2, grounded=0.8,
                 format_ok=0.5, not_in_catalog_ok=0.7, answered=0.6, contradicted=0.1, clean=0.9)
STRONG_TUNED = dict(approved_name_rate=0.98, deprecated_rate=0.0, disclaimer_compliance=0.95, grounded=0.8,
                    format_ok=0.9, not_in_catalog_ok=0.9, answered=0.95, contradicted=0.0, clean=1.0)
# the adapter without retrieval is not a setup the tuned variant has to beat: perfect, and never a reference
ADAPTER_ALONE = dict(approved_name_rate=1.0, deprecated_rate=0.0, disclaimer_compliance=1.0, grounded=1.0,
                     format_ok=1.0, not_in_catalog_ok=1.0, answered=1.0, contradicted=0.0, clean=1.0)


def variants(tuned=None, **override):
    """The four simpler variants at GOOD_BASE (with per-variant overrides), the adapter alone, and the tuned."""
    out = {v: {**GOOD_BASE, **override.get(v, {})} for v in SIMPLER}
    return summary(**out, adapter=ADAPTER_ALONE, rag_adapter={**STRONG_TUNED, **(tuned or {})})


def checks_by(verdict):
    return {c["check"]: c for c in verdict["checks"]}


def check(s, label):
    return checks_by(gate(s))[label]


def ahead(m):
    return f"{m} ahead of the best simpler variant"


def guard(m):
    return f"{m} not worse than retrieval baselines"


def parity(m):
    return f"{m} not worse than rag_prompt"


def worse(m, value, by=HAIR):
    return value + by if m in ("deprecated_rate", "contradicted") else value - by


# --- every check is there, and a clear win passes them all -----------------------------------------------

def test_a_clear_win_passes_every_check():
    verdict = gate(variants())
    assert verdict["passed"], verdict["checks"]
    assert all(c["passed"] is True for c in verdict["checks"])
    assert list(checks_by(verdict)) == [
        ahead("approved_name_rate"), ahead("deprecated_rate"), ahead("disclaimer_compliance"),
        guard("grounded"), guard("format_ok"), guard("not_in_catalog_ok"),
        parity("answered"), parity("contradicted"), parity("clean"),
        "approved_name_rate target ≥ 90%", "deprecated_rate target ≤ 2%", "disclaimer_compliance target ≥ 90%",
        "answered target ≥ 85%", "contradicted target ≤ 1%", "clean target ≥ 98%"]


def test_the_verdict_records_the_config_it_used():
    assert gate(variants())["config"] == asdict(GateConfig())
    cfg = GateConfig(margin=0.2, tolerance=0.01, targets={"answered": 0.5})
    verdict = gate(variants(), cfg)
    assert verdict["config"]["margin"] == 0.2 and verdict["config"]["tolerance"] == 0.01
    assert verdict["config"]["targets"] == {"answered": 0.5}
    assert json.loads(json.dumps(verdict)) == verdict | {"config": json.loads(json.dumps(verdict["config"]))}


# --- naming: ahead of the best simpler variant by the margin, or the headroom share ---------------------

# (metric, best simpler value, tuned value exactly at the bar): the margin binds (10 points) ...
AT_MARGIN = [("approved_name_rate", 0.60, 0.70), ("deprecated_rate", 0.30, 0.20),
             ("disclaimer_compliance", 0.20, 0.30)]
# ... and the headroom share binds (half of what is left: 8 points -> 4, 3 -> 1.5, 10 -> 5), above the targets
AT_HEADROOM = [("approved_name_rate", 0.92, 0.96), ("deprecated_rate", 0.03, 0.015),
               ("disclaimer_compliance", 0.90, 0.95)]


@pytest.mark.parametrize("m, best, bar", AT_MARGIN + AT_HEADROOM)
def test_naming_passes_exactly_at_the_bar_and_fails_a_hair_below(m, best, bar):
    s = variants(tuned={m: bar}, rag={m: best})
    c = check(s, ahead(m))
    assert c["passed"] and c["reference_value"] == best and c["required"] == pytest.approx(abs(bar - best))
    c = check(variants(tuned={m: worse(m, bar)}, rag={m: best}), ahead(m))
    assert not c["passed"]


@pytest.mark.parametrize("m, best, bar", AT_HEADROOM)
def test_a_naming_miss_alone_fails_the_verdict(m, best, bar):
    assert gate(variants(tuned={m: bar}, rag={m: best}))["passed"]
    verdict = gate(variants(tuned={m: worse(m, bar)}, rag={m: best}))
    assert not verdict["passed"] and [c["check"] for c in verdict["checks"] if not c["passed"]] == [ahead(m)]


@pytest.mark.parametrize("reference", SIMPLER)
def test_each_simpler_variant_is_a_reference_for_naming(reference):
    m = "approved_name_rate"
    s = variants(tuned={m: 0.75}, **{reference: {m: 0.65}})  # 10 points ahead of it, 15 ahead of the rest
    c = check(s, ahead(m))
    assert c["reference"] == reference and c["passed"]
    c = check(variants(tuned={m: 0.7499}, **{reference: {m: 0.65}}), ahead(m))
    assert c["reference"] == reference and not c["passed"]


def test_the_best_simpler_variant_is_the_reference_not_the_average():
    # RAG + prompt reaches 0.92 approved: the adapter's 0.98 is not 10 points ahead, but the headroom rule
    # (half of 8 points = 4) is the smaller bar and 6 points clears it
    c = check(variants(rag_prompt={"approved_name_rate": 0.92}), ahead("approved_name_rate"))
    assert c["reference"] == "rag_prompt" and c["required"] == pytest.approx(0.04) and c["passed"]
    c = check(variants(rag_prompt={"approved_name_rate": 0.97}), ahead("approved_name_rate"))
    assert c["required"] == pytest.approx(0.015) and not c["passed"]  # 1 point ahead, 1.5 needed


def test_deprecated_rate_is_lower_is_better():
    s = variants(tuned={"deprecated_rate": 0.04}, rag={"deprecated_rate": 0.05})
    verdict = gate(s)
    c = checks_by(verdict)[ahead("deprecated_rate")]
    assert c["reference"] == "rag" and c["required"] == pytest.approx(0.025) and not c["passed"]
    assert not verdict["passed"]


# --- guards: no worse than the best retrieval baseline by more than the tolerance ------------------------

@pytest.mark.parametrize("m", ["grounded", "format_ok", "not_in_catalog_ok"])
def test_a_guard_may_drop_exactly_the_tolerance_and_not_a_hair_more(m):
    best = GOOD_BASE[m]
    verdict = gate(variants(tuned={m: round(best - 0.05, 4)}))
    assert checks_by(verdict)[guard(m)]["passed"] and verdict["passed"]
    verdict = gate(variants(tuned={m: round(best - 0.05 - HAIR, 4)}))
    assert not checks_by(verdict)[guard(m)]["passed"] and not verdict["passed"]


@pytest.mark.parametrize("reference", ["rag", "rag_prompt"])
def test_each_retrieval_baseline_is_a_guard_reference(reference):
    s = variants(tuned={"grounded": 0.85}, **{reference: {"grounded": 0.90}})
    c = check(s, guard("grounded"))
    assert c["reference"] == reference and c["passed"]
    c = check(variants(tuned={"grounded": 0.8499}, **{reference: {"grounded": 0.90}}), guard("grounded"))
    assert c["reference"] == reference and not c["passed"]


def test_variants_without_retrieval_are_not_guard_references():
    # base and base + prompt see no catalog context: their figures are no bar for the tuned variant
    perfect = {"grounded": 1.0, "format_ok": 1.0, "not_in_catalog_ok": 1.0}
    verdict = gate(variants(tuned={"grounded": 0.8}, base=perfect, prompt=perfect))
    assert verdict["passed"], verdict["checks"]
    assert {checks_by(verdict)[guard(m)]["reference"] for m in perfect} <= {"rag", "rag_prompt"}


# --- correctness: answered, contradicted, clean no worse than RAG + prompt ---------------------------------

# (metric, RAG + prompt's value, RAG's better value): the tuned variant must match RAG + prompt, not RAG
PARITY = [("answered", 0.90, 0.99), ("contradicted", 0.005, 0.0), ("clean", 0.99, 1.0)]


@pytest.mark.parametrize("m, at, rag", PARITY)
def test_correctness_must_match_rag_prompt_exactly(m, at, rag):
    verdict = gate(variants(tuned={m: at}, rag_prompt={m: at}, rag={m: rag}))
    c = checks_by(verdict)[parity(m)]
    assert c["passed"] and c["reference"] == "rag_prompt" and c["tolerance"] == 0.0
    assert verdict["passed"], verdict["checks"]  # RAG alone doing better is not a bar
    verdict = gate(variants(tuned={m: worse(m, at)}, rag_prompt={m: at}, rag={m: rag}))
    assert not checks_by(verdict)[parity(m)]["passed"] and not verdict["passed"]


def test_contradicted_is_lower_is_better():
    c = check(variants(tuned={"contradicted": 0.004}, rag_prompt={"contradicted": 0.005}), parity("contradicted"))
    assert c["passed"] and c["drop"] == pytest.approx(-0.001)


# --- targets: the absolute bars ------------------------------------------------------------------------

TARGETS = [("approved_name_rate", 0.90), ("deprecated_rate", 0.02), ("disclaimer_compliance", 0.90),
           ("answered", 0.85), ("contradicted", 0.01), ("clean", 0.98)]


@pytest.mark.parametrize("m, bar", TARGETS)
def test_each_target_passes_at_the_bar_and_fails_a_hair_worse(m, bar):
    weak = {"approved_name_rate": 0.5, "deprecated_rate": 0.3, "disclaimer_compliance": 0.1}
    weak |= {"answered": 0.5, "contradicted": 0.2, "clean": 0.5}  # far behind: only the target can bind
    label = f"{m} target {'≤' if m in ('deprecated_rate', 'contradicted') else '≥'} {bar:.0%}"
    s = summary(**{v: {**GOOD_BASE, **weak} for v in SIMPLER}, adapter=ADAPTER_ALONE,
                rag_adapter={**STRONG_TUNED, m: bar})
    verdict = gate(s)
    assert checks_by(verdict)[label]["passed"] and verdict["passed"], verdict["checks"]
    s["rag_adapter"][m]["value"] = round(worse(m, bar), 4)
    verdict = gate(s)
    assert not checks_by(verdict)[label]["passed"] and not verdict["passed"]
    assert all(c["passed"] for c in verdict["checks"] if c["check"] != label)  # the target alone fails it


def test_absolute_targets_fail_even_when_ahead_of_weak_baselines():
    weak = {"approved_name_rate": 0.5, "disclaimer_compliance": 0.1}
    verdict = gate(variants(tuned={"disclaimer_compliance": 0.85}, **{v: weak for v in SIMPLER}))
    assert checks_by(verdict)[ahead("disclaimer_compliance")]["passed"]
    assert not checks_by(verdict)["disclaimer_compliance target ≥ 90%"]["passed"]
    assert not verdict["passed"]


# --- a figure the gate needs and does not get fails it ------------------------------------------------

@pytest.mark.parametrize("m", METRICS)
def test_a_metric_the_scorer_did_not_produce_fails_the_gate(m):
    s = variants()
    del s["rag_adapter"][m]
    verdict = gate(s)
    failed = [c for c in verdict["checks"] if c["passed"] is not True]
    assert verdict["passed"] is False and failed and all(c["passed"] is False and c["metric"] == m for c in failed)
    assert all("did not produce" in c["detail"] for c in failed)


@pytest.mark.parametrize("m", METRICS)
def test_a_metric_never_measured_for_the_tuned_variant_fails_the_gate(m):
    verdict = gate(variants(tuned={m: None}))
    failed = [c for c in verdict["checks"] if c["passed"] is not True]
    assert verdict["passed"] is False and {c["metric"] for c in failed} == {m}
    assert all(c["passed"] is False for c in failed)  # a fail, not "did not apply"
    assert all("not measured for rag_adapter" in c["detail"] for c in failed)


def test_a_reference_missing_from_the_summary_fails_but_one_at_none_is_left_out():
    s = variants()
    del s["rag_prompt"]["answered"]
    c = checks_by(gate(s))[parity("answered")]
    assert not c["passed"] and "'answered' for rag_prompt" in c["detail"]
    s = variants()
    del s["prompt"]
    assert not gate(s)["passed"]
    # base mentioned no product (no naming rate): the best of the others is the reference
    c = check(variants(base={"approved_name_rate": None}, rag={"approved_name_rate": 0.7}), ahead("approved_name_rate"))
    assert c["passed"] and c["reference"] == "rag"
    # no reference measured at all: nothing shows the adapter is ahead
    c = check(variants(**{v: {"disclaimer_compliance": None} for v in SIMPLER}), ahead("disclaimer_compliance"))
    assert not c["passed"] and "no reference variant" in c["detail"]


def test_a_gate_with_no_checks_never_passes():
    assert gate(variants(), GateConfig(naming=(), guards=(), parity=(), targets={}))["passed"] is False


def test_a_summary_without_the_tuned_variant_fails_every_check():
    s = variants()
    del s["rag_adapter"]
    verdict = gate(s)
    assert not verdict["passed"] and not any(c["passed"] for c in verdict["checks"])


@pytest.mark.parametrize("field", ["margin", "headroom_share", "tolerance", "parity_tolerance"])
def test_config_validates_its_fields(field):
    with pytest.raises(ValueError, match=field):
        GateConfig(**{field: 1.5})
    with pytest.raises(ValueError, match=field):
        GateConfig(**{field: -0.1})
    with pytest.raises(ValueError, match="targets.*answered"):
        GateConfig(targets={"answered": 85})


# --- binding a recorded verdict to its scorecard --------------------------------------------------------

def _scorecard(root, adapter="quokka@v0001", s=None, passed=True, cfg=GateConfig()):
    """A scorecard.json as `onbrand eval` writes it (summary and verdict), its verdict's "passed" as given."""
    path = root / "reports" / "quokka-v0001" / "scorecard.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    s = variants() if s is None else s
    path.write_text(json.dumps({"adapter": adapter, "summary": s, "gate": {**gate(s, cfg), "passed": passed}}))
    return path


def _record(path, roots):
    return {"gate": {"passed": True, "checks": []}, "scorecard": bind_scorecard(path, roots)}


def test_a_bound_passing_scorecard_verifies(tmp_path):
    roots = {"home": tmp_path / "home", "repo": tmp_path / "repo"}
    path = _scorecard(roots["repo"])
    record = _record(path, roots)
    assert record["scorecard"]["path"] == "reports/quokka-v0001/scorecard.json"
    assert record["scorecard"]["root"] == "repo"
    assert verify_recorded(record, "quokka@v0001", roots)["passed"]
    assert bind_scorecard(tmp_path / "elsewhere.json", roots) is None  # never an absolute machine path


@pytest.mark.parametrize("breaks, message", [
    (lambda p, r: r.update(gate={"passed": "yes"}), "evaluation.gate.passed is 'yes', not True"),
    (lambda p, r: r.pop("scorecard"), "evaluation.scorecard .* is missing"),
    (lambda p, r: r["scorecard"].update(path=str(p)), "is not a relative path"),
    (lambda p, r: r["scorecard"].update(path="../x/scorecard.json"), "is not a relative path"),
    (lambda p, r: p.unlink(), r"scorecard .*scorecard.json is missing"),
    (lambda p, r: p.write_text(p.read_text().replace('"value": 0.95', '"value": 0.96', 1)), "sha256"),
])
def test_a_broken_binding_is_refused_naming_what_differs(tmp_path, breaks, message):
    roots = {"home": tmp_path}
    path = _scorecard(tmp_path)
    record = _record(path, roots)
    breaks(path, record)
    with pytest.raises(RecordError, match=message):
        verify_recorded(record, "quokka@v0001", roots)


def test_a_hand_edited_pass_over_a_failing_scorecard_is_refused(tmp_path):
    s = variants(tuned={"contradicted": 0.05})
    path = _scorecard(tmp_path, s=s, passed=False)  # what `onbrand eval` wrote: failed
    with pytest.raises(RecordError, match=r"records the gate as passed=False .* contradicted target"):
        verify_recorded(_record(path, {"home": tmp_path}), "quokka@v0001", {"home": tmp_path})
    # the scorecard's own verdict edited too, and its hash re-recorded: the re-run gate still says no
    path = _scorecard(tmp_path, s=s, passed=True)
    with pytest.raises(RecordError, match=r"re-running the gate .* fails: contradicted target ≤ 1%"):
        verify_recorded(_record(path, {"home": tmp_path}), "quokka@v0001", {"home": tmp_path})


def test_a_verdict_reached_under_a_looser_config_or_for_another_version_is_refused(tmp_path):
    s = variants(tuned={"grounded": 0.72})  # 8 points of grounding lost: `onbrand eval --tolerance 0.1` passes it
    path = _scorecard(tmp_path, s=s, cfg=GateConfig(tolerance=0.1))
    assert json.loads(path.read_text())["gate"]["config"]["tolerance"] == 0.1
    with pytest.raises(RecordError, match="grounded not worse than retrieval baselines"):
        verify_recorded(_record(path, {"home": tmp_path}), "quokka@v0001", {"home": tmp_path})
    path = _scorecard(tmp_path, adapter="quokka@v0002")
    with pytest.raises(RecordError, match="evaluation of 'quokka@v0002', not of quokka@v0001"):
        verify_recorded(_record(path, {"home": tmp_path}), "quokka@v0001", {"home": tmp_path})
