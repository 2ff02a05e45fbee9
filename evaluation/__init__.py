"""Evaluation: per-answer brand metrics, bootstrap statistics, the variants scorecard, report and ship gate.

`metrics` scores one answer against one held-out case; `stats` puts 95% bootstrap intervals on the
aggregates. Both work for any merchant: a catalog, a brand kit and a prompts file.
"""

from evaluation.metrics import (METRICS, AnswerScore, Case, CaseError, aggregate, load_cases, metric_counts,
                                passes, score_answer)
from evaluation.stats import bootstrap_ci, paired_diff

__all__ = ["METRICS", "AnswerScore", "Case", "CaseError", "aggregate", "bootstrap_ci", "load_cases",
           "metric_counts", "paired_diff", "passes", "score_answer"]
