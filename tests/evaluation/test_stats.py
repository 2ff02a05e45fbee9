"""Bootstrap intervals and paired differences over prompts, on made-up per-answer scores.

    .venv/bin/python -m pytest tests/evaluation/test_stats.py -q
"""

from __future__ import annotations

import numpy as np
import pytest

from evaluation.metrics import AnswerScore, aggregate
from evaluation.stats import bootstrap_ci, paired_diff


def make(case_id: str, *, approved: int = 0, deprecated: int = 0, grounded: bool = True,
         injection_ok: bool | None = None) -> AnswerScore:
    return AnswerScore(
        case_id=case_id, kind="price", approved_mentions=approved, deprecated_mentions=deprecated, generic_mentions=0,
        deprecated_terms=("x",) * deprecated, generic_terms=(), misspelt_trademarks=(), disclaimers_required=0,
        disclaimers_present=0, missing_disclaimers=(), facts_required=0, facts_present=0, ungrounded=(),
        unknown_products=(), trademark_ok=True, format_ok=None, grounded=grounded, facts_stated=None,
        not_in_catalog_ok=None, injection_ok=injection_ok, hit_at_k=None)


def test_interval_of_a_pass_rate_brackets_the_value_and_matches_the_binomial_spread():
    scores = [make(f"c{i}", grounded=i < 70) for i in range(100)]
    value, lo, hi = bootstrap_ci(scores, "grounded", n_boot=2000, seed=1)
    assert value == 0.7
    se = (0.7 * 0.3 / 100) ** 0.5  # 0.046: a 95% interval is about ±0.09
    assert 0.7 - 2.5 * se < lo < 0.7 - 1.5 * se and 0.7 + 1.5 * se < hi < 0.7 + 2.5 * se


def test_bootstrap_uses_aggregates_definition_and_is_seeded():
    # uneven mention counts: a ratio of sums differs from a mean of per-answer rates
    scores = [make(f"c{i}", approved=i % 4, deprecated=(i * 7) % 3) for i in range(40)]
    got = bootstrap_ci(scores, "approved_name_rate", n_boot=300, seed=5)
    idx = np.random.default_rng(5).integers(0, 40, size=(300, 40))
    by_hand = [aggregate([scores[j] for j in row])["approved_name_rate"] for row in idx]
    by_hand = np.array([np.nan if v is None else v for v in by_hand])
    lo, hi = np.percentile(by_hand[~np.isnan(by_hand)], [2.5, 97.5])
    assert got == pytest.approx((aggregate(scores)["approved_name_rate"], lo, hi))
    assert bootstrap_ci(scores, "approved_name_rate", n_boot=300, seed=5) == got
    assert bootstrap_ci(scores, "approved_name_rate", n_boot=300, seed=6) != got


def test_constant_results_give_a_zero_width_interval():
    assert bootstrap_ci([make(f"c{i}", approved=2) for i in range(10)], "approved_name_rate") == (1.0, 1.0, 1.0)
    assert bootstrap_ci([make(f"c{i}", approved=2) for i in range(10)], "deprecated_rate") == (0.0, 0.0, 0.0)


def test_answers_the_metric_does_not_apply_to_are_left_out():
    scores = [make("a", injection_ok=True), make("b", injection_ok=False), make("c"), make("d")]
    value, lo, hi = bootstrap_ci(scores, "injection_ok", n_boot=500)
    assert value == 0.5 and lo == 0.0 and hi == 1.0
    with pytest.raises(ValueError, match="hit_at_k did not apply to any of the 4 answers"):
        bootstrap_ci(scores, "hit_at_k")


def test_paired_diff_names_fixed_and_broken_prompts():
    a = [make("p1", grounded=False), make("p2", grounded=True), make("p3", grounded=False), make("p4"),
         make("p5", grounded=False)]
    b = [make("p4"), make("p3", grounded=True), make("p2", grounded=False), make("p1", grounded=True),
         make("p5", grounded=False)]  # any order; p4 passes and p5 fails in both: neither fixed nor broken
    d = paired_diff(a, b, "grounded", n_boot=200)
    assert (d["fixed"], d["broken"]) == (["p1", "p3"], ["p2"])
    assert (d["a"], d["b"], d["diff"]) == (0.4, 0.6, pytest.approx(0.2))
    assert d["lo"] <= 0.2 <= d["hi"]


def test_paired_diff_on_a_rate_counts_a_perfect_answer_as_a_pass():
    a = [make("p1", approved=1, deprecated=1), make("p2", approved=2)]
    b = [make("p1", approved=2), make("p2", approved=1, deprecated=1)]
    d = paired_diff(a, b, "deprecated_rate", n_boot=100)
    assert (d["fixed"], d["broken"], d["diff"]) == (["p1"], ["p2"], 0.0)


def test_paired_diff_needs_the_same_cases():
    with pytest.raises(ValueError, match="same cases"):
        paired_diff([make("p1")], [make("p2")], "grounded")
