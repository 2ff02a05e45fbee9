"""The ship gate: an adapter ships only when RAG + adapter beats every simpler setup on brand behaviour,
answers at least as correctly as RAG + prompt, and gives up no grounding or format.

    verdict = gate(card.summary())                           # {"passed", "checks", "config"}
    binding = bind_scorecard(out / "scorecard.json", roots)  # recorded beside the verdict in the manifest
    verify_recorded(manifest["evaluation"], "fernhollow@v0008", roots)   # promote's re-check

Rules (all configurable in GateConfig, all recorded with the verdict):
- naming: on each of approved-name rate, deprecated-alias rate and disclaimer compliance, RAG + adapter is
  ahead of the *best* simpler variant (base, base + prompt, RAG, RAG + prompt) by `margin` points, or by
  `headroom_share` of that variant's remaining headroom when that is smaller (a baseline at 96% cannot be
  beaten by 10 points);
- guards: grounding, format adherence and not-in-catalog handling are no worse than the best retrieval
  baseline (RAG, RAG + prompt) by more than `tolerance`;
- correctness: answered, contradicted and clean are no worse than RAG + prompt (`parity_reference`) by more
  than `parity_tolerance`, which is 0;
- targets: the absolute bars the product promises (approved ≥ 90%, deprecated ≤ 2%, disclaimers ≥ 90%,
  answered ≥ 85%, contradicted ≤ 1%, clean ≥ 98%).

No check is neutral. A metric a check needs that is missing from the summary, or None for the tuned variant
(the scorer stopped producing it, or the prompts hold no case of its kind), fails that check with a detail
saying so. A reference variant at None (no product mentioned, so no naming rate) is left out of "best of";
a check left with no reference value fails.

Promotion re-checks a recorded verdict (`verify_recorded`): the manifest names its scorecard.json by a path
relative to the onbrand home or the repository and its sha256, and the gate is run again on the summary in
that file with the *current* GateConfig defaults, so a hand-edited `"passed": true`, a changed scorecard, a
scorecard of another version, or a verdict reached under a looser `--margin`/`--tolerance` does not ship
without `--force --reason`.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path, PurePosixPath

from core import atomic
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
    parity: tuple[str, ...] = ("answered", "contradicted", "clean")
    parity_reference: tuple[str, ...] = ("rag_prompt",)  # same context, the brand rules told in the prompt
    # 0: "no worse" means no worse. Both variants answer the same prompts, so a tie is the same count of
    # right answers; one more contradicted answer than RAG + prompt is a regression the issue rules out.
    parity_tolerance: float = 0.0
    targets: dict[str, float] = field(default_factory=lambda: {
        "approved_name_rate": 0.90, "deprecated_rate": 0.02, "disclaimer_compliance": 0.90,
        "answered": 0.85, "contradicted": 0.01, "clean": 0.98})

    def __post_init__(self):
        for name in ("margin", "headroom_share", "tolerance", "parity_tolerance"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"{name} must be in [0, 1], got {getattr(self, name)}")
        for metric, bar in self.targets.items():
            if not 0 <= bar <= 1:
                raise ValueError(f"targets[{metric!r}] must be in [0, 1], got {bar}")


def _better(metric: str, a: float, b: float) -> float:
    """How far a is ahead of b (positive = better), whichever direction the metric runs."""
    return b - a if metric in LOWER_IS_BETTER else a - b


def _headroom(metric: str, value: float) -> float:
    return value if metric in LOWER_IS_BETTER else 1 - value


def _at_least(a: float, b: float) -> bool:
    """a ≥ b for rates: 0.70 - 0.60 is 0.0999…98 in floats, which is 10 points, not a miss."""
    return round(a - b, 9) >= 0


def gate(summary: dict[str, dict[str, dict]], cfg: GateConfig = GateConfig(), held_out: dict | None = None) -> dict:
    """summary: Scorecard.summary(). Returns {"passed": bool, "checks": [...], "config": {...}}; every check's
    "passed" is True or False, and a failed one for want of a figure carries a "detail" saying which.
    held_out: `evaluation.heldout.held_out_from` for the prompts against the adapter's training data; when
    given and not held out, the gate fails (figures from training prompts say nothing about new shoppers)."""
    checks = []
    if held_out is not None:
        checks.append({"check": "prompts held out from the adapter's training data", "metric": "held_out",
                       "prompt_overlap": held_out.get("prompt_overlap"),
                       "template_overlap": held_out.get("template_overlap"),
                       "passed": held_out.get("held_out") is True})

    def produced(variant: str, metric: str) -> str | None:
        """Why the summary lacks the figure altogether (a broken summary, not a weak variant), or None."""
        row = summary.get(variant)
        if not isinstance(row, dict):
            return f"the summary has no variant {variant!r}"
        if not isinstance(row.get(metric), dict) or "value" not in row[metric]:
            return f"the summary has no {metric!r} for {variant} (the scorer did not produce it)"
        return None

    def measured(variant: str, metric: str) -> tuple[float | None, str | None]:
        """(value, None), or (None, why there is none): a missing variant or metric, or a None value."""
        why = produced(variant, metric)
        if why is None and summary[variant][metric]["value"] is None:
            why = f"{metric} was not measured for {variant} (value None)"
        return (None, why) if why else (summary[variant][metric]["value"], None)

    def failed(label: str, metric: str, why: str) -> None:
        checks.append({"check": label, "metric": metric, "passed": False, "detail": why})

    def against_best(metric: str, label: str, references: tuple[str, ...], judge) -> None:
        """One check of the tuned value against the best of `references`; judge(metric, tuned, best) returns
        the check's own figures, including "passed"."""
        t, why = measured(cfg.tuned, metric)
        refs = {}
        for v in references:
            value, _ = measured(v, metric)
            if value is not None:
                refs[v] = value
            why = why or produced(v, metric)  # a reference at None is left out; one never produced fails
        if why is None and not refs:
            why = f"no reference variant ({', '.join(references)}) measured {metric}"
        if why is not None:
            return failed(label, metric, why)
        best_name = (min if metric in LOWER_IS_BETTER else max)(refs, key=refs.get)
        checks.append({"check": label, "metric": metric, "tuned": t, "reference": best_name,
                       "reference_value": refs[best_name], **judge(metric, t, refs[best_name])})

    def ahead_of(metric, t, best):
        need = min(cfg.margin, cfg.headroom_share * _headroom(metric, best))
        ahead = _better(metric, t, best)
        return {"ahead_by": round(ahead, 4), "required": round(need, 4), "passed": _at_least(ahead, need)}

    def no_worse(tolerance):
        def judge(metric, t, best):
            drop = -_better(metric, t, best)  # how far the tuned variant is behind, whichever direction
            return {"drop": round(drop, 4) + 0.0, "tolerance": tolerance, "passed": _at_least(tolerance, drop)}
        return judge

    for m in cfg.naming:
        against_best(m, f"{m} ahead of the best simpler variant", cfg.simpler, ahead_of)
    for m in cfg.guards:
        against_best(m, f"{m} not worse than retrieval baselines", cfg.guard_reference, no_worse(cfg.tolerance))
    for m in cfg.parity:
        against_best(m, f"{m} not worse than {' / '.join(cfg.parity_reference)}", cfg.parity_reference,
                     no_worse(cfg.parity_tolerance))
    for m, bar in cfg.targets.items():
        label = f"{m} target {'≤' if m in LOWER_IS_BETTER else '≥'} {bar:.0%}"
        t, why = measured(cfg.tuned, m)
        if why is not None:
            failed(label, m, why)
            continue
        ok = _at_least(bar, t) if m in LOWER_IS_BETTER else _at_least(t, bar)
        checks.append({"check": label, "metric": m, "tuned": t, "target": bar, "passed": ok})
    return {"passed": bool(checks) and all(c["passed"] for c in checks), "checks": checks, "config": asdict(cfg)}


# --- binding a recorded verdict to its scorecard ---------------------------------------------------------

class RecordError(ValueError):
    """A recorded verdict that does not stand; the message names the file and what differs."""


def relative_to_roots(path: Path, roots: dict[str, Path]) -> tuple[str, str] | None:
    """(root name, POSIX path relative to it) for the first root that holds `path`; None when none does."""
    path = Path(path).resolve()
    for name, root in roots.items():
        try:
            return name, path.relative_to(Path(root).resolve()).as_posix()
        except ValueError:
            continue
    return None


def bind_scorecard(path: Path, roots: dict[str, Path]) -> dict | None:
    """{"path", "root", "sha256"} naming a scorecard.json by its place under one of `roots` (never an
    absolute machine path) and its content; None when it lies under none of them."""
    where = relative_to_roots(path, roots)
    if where is None:
        return None
    return {"path": where[1], "root": where[0], "sha256": atomic.sha256_file(Path(path))}


def _failed_checks(verdict: dict) -> str:
    def figures(c: dict) -> str:
        return c.get("detail") or ", ".join(f"{k}={v}" for k, v in c.items() if k not in ("check", "metric", "passed"))

    return "; ".join(f"{c['check']} ({figures(c)})" for c in verdict["checks"] if not c["passed"])


def verify_recorded(evaluation, adapter: str, roots: dict[str, Path], cfg: GateConfig = GateConfig()) -> dict:
    """Re-check an adapter version's recorded evaluation (manifest["evaluation"]) before it ships: the
    verdict says passed, the scorecard file it names exists under its root with the recorded sha256, is the
    scorecard of `adapter` ("name@version"), records a passing verdict itself, and `gate()` run again on
    its summary with `cfg` (the current defaults) passes. Returns that verdict; raises RecordError."""
    record = evaluation.get("gate") if isinstance(evaluation, dict) else None
    passed = record.get("passed") if isinstance(record, dict) else None
    if passed is not True:
        raise RecordError(f"evaluation.gate.passed is {passed!r}, not True")
    binding = evaluation.get("scorecard")
    if not isinstance(binding, dict) or not all(isinstance(binding.get(k), str) for k in ("path", "root", "sha256")):
        raise RecordError("evaluation.scorecard (path, root, sha256) is missing, so the verdict is bound to no "
                          "scorecard file; run `onbrand eval` on the full prompts with the report under the "
                          "onbrand home or the repository")
    rel = PurePosixPath(binding["path"])
    if binding["root"] not in roots or rel.is_absolute() or ".." in rel.parts:
        raise RecordError(f"evaluation.scorecard path {binding['path']!r} under {binding['root']!r} is not a "
                          f"relative path under one of: {', '.join(roots)}")
    path = Path(roots[binding["root"]]) / rel
    if not path.is_file():
        raise RecordError(f"scorecard {path} is missing (recorded as {binding['path']} under the "
                          f"{binding['root']} root)")
    actual = atomic.sha256_file(path)
    if actual != binding["sha256"]:
        raise RecordError(f"scorecard {path} has sha256 {actual[:12]}…, the manifest records "
                          f"{binding['sha256'][:12]}…; the file changed after the evaluation")
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise RecordError(f"scorecard {path} cannot be read as JSON: {e}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("summary"), dict):
        raise RecordError(f"scorecard {path} holds no summary to re-check")
    if doc.get("adapter") != adapter:
        raise RecordError(f"scorecard {path} is the evaluation of {doc.get('adapter')!r}, not of {adapter}")
    verdict = gate(doc["summary"], cfg, doc.get("held_out"))
    own = doc.get("gate", {}).get("passed") if isinstance(doc.get("gate"), dict) else None
    if own is not True:
        raise RecordError(f"scorecard {path} records the gate as passed={own!r} while the manifest says True"
                          + ("" if verdict["passed"] else f"; re-run, it fails: {_failed_checks(verdict)}"))
    if not verdict["passed"]:
        raise RecordError(f"re-running the gate (current GateConfig) on scorecard {path} fails: "
                          f"{_failed_checks(verdict)}")
    return verdict
