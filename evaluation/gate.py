"""The ship gate: an adapter ships only when RAG + adapter beats every simpler setup on brand behaviour
without giving up grounding or format.

Rules (all configurable in GateConfig, all recorded with the verdict):
- naming: on each of approved-name rate, deprecated-alias rate and disclaimer compliance, RAG + adapter is
  ahead of the *best* simpler variant (base, base + prompt, RAG, RAG + prompt) by `margin` points, or by
  `headroom_share` of that variant's remaining headroom when that is smaller (a baseline at 96% cannot be
  beaten by 10 points);
- guards: grounding, format adherence and not-in-catalog handling are no worse than the best retrieval
  baseline (RAG, RAG + prompt) by more than `tolerance`;
- targets: the absolute bars the product promises (approved ≥ 90%, deprecated ≤ 2%, disclaimers ≥ 90%).
A metric that never applied (no cases of its kind) is reported as such and neither passes nor fails.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from evaluation.metrics import LOWER_IS_BETTER

SIMPLER = ("base", "prompt", "rag", "rag_prompt")  # the setups an adapter has to beat: no trained weights


@dataclass(frozen=True)
class GateConfig:
    tuned: str = "rag_adapter"
    naming: tuple[str, ...] = ("approved_name_rate", "deprecated_rate", "disclaimer_compliance")
    margin: float = 0.10  # points ahead of the best simpler variant ...
    headroom_share: float = 0.5  # ... or this share of its remaining headroom, if smaller
    simpler: tuple[str, ...] = SIMPLER
    guards: tuple[str, ...] = ("grounded", "format_ok", "not_in_catalog_ok")
    guard_reference: tuple[str, ...] = ("rag", "rag_prompt")  # the baselines that see the same context
    tolerance: float = 0.05  # a guard may drop this much (5 points) below its best reference
    targets: dict[str, float] = field(default_factory=lambda: {
        "approved_name_rate": 0.90, "deprecated_rate": 0.02, "disclaimer_compliance": 0.90})

    def __post_init__(self):
        for name in ("margin", "headroom_share", "tolerance"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"{name} must be in [0, 1], got {getattr(self, name)}")


def _better(metric: str, a: float, b: float) -> float:
    """How far a is ahead of b (positive = better), whichever direction the metric runs."""
    return b - a if metric in LOWER_IS_BETTER else a - b


def _headroom(metric: str, value: float) -> float:
    return value if metric in LOWER_IS_BETTER else 1 - value


def gate(summary: dict[str, dict[str, dict]], cfg: GateConfig = GateConfig()) -> dict:
    """summary: Scorecard.summary(). Returns {"passed": bool, "checks": [...], "config": {...}}."""
    tuned = summary[cfg.tuned]
    checks = []

    def value(variant: str, metric: str):
        return summary.get(variant, {}).get(metric, {}).get("value")

    def against_best(metric: str, label: str, references: tuple[str, ...], judge) -> None:
        """One check of the tuned value against the best of `references`; judge(tuned, best) returns the
        check's own figures, including "passed"."""
        t = tuned[metric]["value"]
        refs = {v: value(v, metric) for v in references if value(v, metric) is not None}
        if t is None or not refs:
            checks.append({"check": label, "metric": metric, "passed": None, "detail": "metric did not apply"})
            return
        best_name = (min if metric in LOWER_IS_BETTER else max)(refs, key=refs.get)
        checks.append({"check": label, "metric": metric, "tuned": t, "reference": best_name,
                       "reference_value": refs[best_name], **judge(t, refs[best_name])})

    for m in cfg.naming:
        def ahead_of(t, best, m=m):
            need, ahead = min(cfg.margin, cfg.headroom_share * _headroom(m, best)), _better(m, t, best)
            return {"ahead_by": round(ahead, 4), "required": round(need, 4), "passed": ahead >= need - 1e-9}

        against_best(m, f"{m} ahead of the best simpler variant", cfg.simpler, ahead_of)
    for m in cfg.guards:
        def no_worse(t, best):
            drop = best - t
            return {"drop": round(drop, 4), "tolerance": cfg.tolerance, "passed": drop <= cfg.tolerance + 1e-9}

        against_best(m, f"{m} not worse than retrieval baselines", cfg.guard_reference, no_worse)
    for m, bar in cfg.targets.items():
        t = tuned.get(m, {}).get("value")
        ok = None if t is None else (t <= bar if m in LOWER_IS_BETTER else t >= bar)
        checks.append({"check": f"{m} target {'≤' if m in LOWER_IS_BETTER else '≥'} {bar:.0%}", "metric": m,
                       "tuned": t, "target": bar, "passed": ok})
    applied = [c for c in checks if c["passed"] is not None]
    return {"passed": bool(applied) and all(c["passed"] for c in applied), "checks": checks,
            "config": asdict(cfg)}
