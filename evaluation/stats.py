"""Bootstrap intervals over prompts, with the same definition as `metrics.aggregate`.

    value, lo, hi = bootstrap_ci(scores, "approved_name_rate")          # 95%, 1000 resamples, seed 0
    d = paired_diff(rag_prompt_scores, rag_adapter_scores, "approved_name_rate")
    d["diff"], d["lo"], d["hi"], d["fixed"], d["broken"]

A resample draws prompts (answers) with replacement and recomputes the metric as summed numerator / summed
denominator (`metrics.metric_counts`), so a rate over mentions weights a long answer by its mentions, exactly
as the point estimate does. Resamples where the metric applied to no drawn prompt are left out. The interval
is the 2.5th and 97.5th percentile of the resampled values (percentile bootstrap).
"""

from __future__ import annotations

import numpy as np

from evaluation.metrics import AnswerScore, aggregate, metric_counts, passes


def _counts(scores: list[AnswerScore], metric: str) -> tuple[np.ndarray, np.ndarray]:
    pairs = np.array([metric_counts(s, metric) for s in scores], dtype=np.float64).reshape(-1, 2)
    return pairs[:, 0], pairs[:, 1]


def _interval(values: np.ndarray) -> tuple[float, float]:
    values = values[~np.isnan(values)]
    lo, hi = np.percentile(values, [2.5, 97.5])
    return float(lo), float(hi)


def _ratios(num: np.ndarray, den: np.ndarray, idx: np.ndarray) -> np.ndarray:
    n, d = num[idx].sum(axis=1), den[idx].sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(d > 0, n / np.where(d > 0, d, 1), np.nan)


def bootstrap_ci(scores: list[AnswerScore], metric: str, n_boot: int = 1000, seed: int = 0
                 ) -> tuple[float, float, float]:
    """(value, lo, hi): the aggregate value and its 95% percentile-bootstrap interval over prompts."""
    value = aggregate(scores)[metric] if scores else None
    if value is None:
        raise ValueError(f"{metric} did not apply to any of the {len(scores)} answers")
    num, den = _counts(scores, metric)
    idx = np.random.default_rng(seed).integers(0, len(scores), size=(n_boot, len(scores)))
    lo, hi = _interval(_ratios(num, den, idx))
    return float(value), lo, hi


def paired_diff(a: list[AnswerScore], b: list[AnswerScore], metric: str, n_boot: int = 1000, seed: int = 0
                ) -> dict:
    """B minus A on the same prompts (paired by case id), with a 95% interval from resampling prompts jointly.

    fixed: case ids where B's answer is perfect on the metric and A's is not; broken: the reverse.
    """
    by_id = {s.case_id: s for s in b}
    if len(by_id) != len(b) or {s.case_id for s in a} != set(by_id) or len(a) != len(b):
        raise ValueError("paired_diff needs one score per case, for the same cases, in both lists")
    b = [by_id[s.case_id] for s in a]
    va, vb = aggregate(a)[metric], aggregate(b)[metric]
    out = {"metric": metric, "a": va, "b": vb, "diff": None, "lo": None, "hi": None, "fixed": [], "broken": []}
    for sa, sb in zip(a, b):
        pa, pb = passes(sa, metric), passes(sb, metric)
        if pa is False and pb is True:
            out["fixed"].append(sa.case_id)
        elif pa is True and pb is False:
            out["broken"].append(sa.case_id)
    if va is None or vb is None:
        return out
    na, da = _counts(a, metric)
    nb, db = _counts(b, metric)
    idx = np.random.default_rng(seed).integers(0, len(a), size=(n_boot, len(a)))
    out["diff"] = vb - va
    out["lo"], out["hi"] = _interval(_ratios(nb, db, idx) - _ratios(na, da, idx))
    return out
