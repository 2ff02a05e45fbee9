"""`onbrand onboard`: a merchant's catalog export and brand kit to a gated adapter in one command.

    ingest -> lint -> index -> dataset -> prompts -> train -> eval --gate

Every step is the same code the single commands run (`load_catalog`, `tuning.lint`, `build_index`,
`build_dataset`, `run_training`, `onbrand.evaluate.evaluate`). The first blocking problem stops the run with
one message saying what to fix. Each finished step is recorded in `<home>/onboard/<name>/state.json` with the
sha256 of its inputs; a re-run skips a step whose inputs did not change (and whose outputs are still there),
so fixing the kit and re-running redoes only what the kit feeds. Without `--prompts`, held-out prompts are
made from the dataset's eval split (`evaluation.generated`), and the report says so.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable

from core import atomic
from core.config import Settings
from core.errors import UserError
from core.refs import split_key

STEPS = ("ingest", "lint", "index", "dataset", "prompts", "train", "eval")


def _sha(*parts: object) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


@dataclass
class StepResult:
    step: str
    skipped: bool
    seconds: float
    summary: str
    outputs: dict = field(default_factory=dict)


@dataclass
class Onboarding:
    """One merchant's onboarding: settings, where its files go, what ran."""
    settings: Settings
    name: str
    catalog_path: Path
    kit_path: Path
    prompts_path: Path | None = None
    fmt: str | None = None
    mapping: str | None = None
    say: Callable[[str], None] = print
    train_config: object = None  # a TrainConfig; None: the defaults `onbrand train` uses
    max_new_tokens: int | None = None  # the scorecard's; None: its default
    results: list[StepResult] = field(default_factory=list)

    @property
    def folder(self) -> Path:
        return self.settings.home / "onboard" / self.name

    @property
    def state_path(self) -> Path:
        return self.folder / "state.json"

    def _state(self) -> dict:
        try:
            return json.loads(self.state_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}

    def _record(self, step: str, key: str, outputs: dict) -> None:
        state = self._state()
        state[step] = {"inputs": key, "outputs": outputs}  # later steps' keys hold these outputs' hashes
        self.folder.mkdir(parents=True, exist_ok=True)
        atomic.write_text(self.state_path, json.dumps(state, indent=2, sort_keys=True) + "\n")

    def _run(self, step: str, key: str, work: Callable[[], tuple[str, dict]],
             still_there: Callable[[dict], bool] = lambda outputs: True) -> dict:
        n = STEPS.index(step) + 1
        done = self._state().get(step)
        started = time.perf_counter()
        if done and done.get("inputs") == key and still_there(done.get("outputs", {})):
            result = StepResult(step, True, 0.0, done["outputs"].get("summary", ""), done["outputs"])
            self.say(f"[{n}/{len(STEPS)}] {step}: unchanged inputs, skipped ({result.summary})")
        else:
            self.say(f"[{n}/{len(STEPS)}] {step} ...")
            summary, outputs = work()
            outputs = {**outputs, "summary": summary}
            self._record(step, key, outputs)
            result = StepResult(step, False, time.perf_counter() - started, summary, outputs)
            self.say(f"[{n}/{len(STEPS)}] {step}: {summary} ({result.seconds:.0f} s)")
        self.results.append(result)
        return result.outputs

    def run(self, gate_required: bool = True) -> dict:
        from corpus.brandkit import load_brand_kit
        from corpus.ingest import load_catalog, load_mapping

        s = self.settings
        # 1. ingest: the export parses, every row named
        catalog_sha = atomic.sha256_file(self.catalog_path)
        catalog_holder = {}

        def ingest():
            catalog = load_catalog(self.catalog_path, fmt=self.fmt, mapping=load_mapping(self.mapping))
            catalog_holder["c"] = catalog
            return (f"{len(catalog)} products in {len({p.collection for p in catalog.products})} lines",
                    {"products": len(catalog), "catalog_sha256": catalog.sha256()})

        self._run("ingest", _sha(catalog_sha, self.fmt, self.mapping), ingest)
        catalog = catalog_holder.get("c") or load_catalog(self.catalog_path, fmt=self.fmt,
                                                          mapping=load_mapping(self.mapping))
        kit_sha = atomic.sha256_file(self.kit_path)

        # 2. lint: kit and catalog; errors stop here
        def lint_step():
            from tuning.lint import ERROR, lint_catalog, lint_kit, lint_kit_file

            kit, findings = lint_kit_file(self.kit_path)
            if kit is not None:
                findings += lint_kit(kit, catalog) + lint_catalog(catalog, kit)
            errors = [f for f in findings if f.severity == ERROR]
            if errors:
                shown = "\n".join(f"  {f}" for f in errors[:20])
                more = f"\n  ... and {len(errors) - 20} more" if len(errors) > 20 else ""
                raise UserError(f"lint found {len(errors)} error(s) in the brand kit or catalog; fix them and "
                                f"re-run onboard (earlier steps are kept):\n{shown}{more}")
            return f"0 errors, {len(findings)} warnings", {"warnings": len(findings)}

        self._run("lint", _sha(catalog_sha, kit_sha), lint_step)
        kit = load_brand_kit(self.kit_path)

        # 3. index: this merchant's own index (named after it)
        index_name = self.name
        s = replace(s, index_name=index_name, catalog=self.catalog_path, brand_kit=self.kit_path)
        self.settings = s

        def index_step():
            from rag.embedding import Embedder
            from rag.index_store import build_index

            version = build_index(catalog, Embedder.load(), s.index_root, index_name, kit=kit, show_progress_bar=True)
            return f"{index_name}/{version}", {"index": index_name, "version": version}

        def index_there(outputs: dict) -> bool:
            from rag.index_store import current_version
            return current_version(s.index_root, index_name) == outputs.get("version")

        self._run("index", _sha(catalog_sha, kit_sha, _code_version("rag/chunking.py", "rag/fields.py",
                                                                     "corpus/variants.py")), index_step, index_there)

        # 4. dataset: from the catalog and the kit, with the real retriever
        dataset_path = self.folder / "dataset.jsonl"

        def dataset_step():
            from tqdm.auto import tqdm

            from rag.embedding import Embedder
            from rag.index_store import load_index
            from rag.retrieval import Retriever
            from tuning.dataset import DatasetConfig, build_dataset, overlap_report, write_dataset
            from tuning.lint import ERROR, lint_dataset_rows

            emb = Embedder.load()
            retriever = Retriever(load_index(s.index_root, index_name, emb.info), emb)
            with tqdm(total=len(catalog), desc="Building examples", unit="product") as bar:
                rows = build_dataset(catalog, kit, retriever, DatasetConfig(),
                                     progress=lambda done, total: bar.update(done - bar.n) if bar.total == total
                                     else (bar.reset(total), bar.update(done)))
            data = [r.to_json() for r in rows]
            errors = [f for f in lint_dataset_rows(data, kit, catalog, str(dataset_path)) if f.severity == ERROR]
            if errors:
                raise UserError(f"the dataset built from this catalog and kit has {len(errors)} lint error(s), e.g. "
                                f"{errors[0]}; this is a bug in the builder for this catalog: please report it")
            sha = write_dataset(rows, dataset_path)
            overlap = overlap_report(data)
            train = sum(r["split"] == "train" for r in data)
            return (f"{train} training and {len(data) - train} held-out examples",
                    {"path": str(dataset_path), "sha256": sha, **{k: overlap[k] for k in overlap if k != "examples"}})

        def file_there(outputs: dict) -> bool:
            p = Path(outputs.get("path", ""))
            return p.is_file() and atomic.sha256_file(p) == outputs.get("sha256")

        ds = self._run("dataset", _sha(catalog_sha, kit_sha, self.results[2].outputs.get("version"),
                                       _code_version("tuning/dataset.py", "corpus/phrasings.py", "corpus/variants.py")), dataset_step, file_there)

        # 5. prompts: the merchant's, or made from the dataset's eval split
        prompts_path = self.prompts_path or self.folder / "eval_prompts.jsonl"

        def prompts_step():
            from evaluation.generated import prompts_from_dataset, write_prompts
            from evaluation.metrics import load_cases

            if self.prompts_path is not None:
                cases = load_cases(self.prompts_path, kit=kit, catalog=catalog)
                return f"{len(cases)} prompts from {self.prompts_path}", {
                    "path": str(self.prompts_path), "sha256": atomic.sha256_file(self.prompts_path), "source": "file"}
            rows = [json.loads(line) for line in dataset_path.read_text(encoding="utf-8").splitlines()]
            generated = prompts_from_dataset(rows, catalog, kit)
            write_prompts(generated, prompts_path)
            load_cases(prompts_path, kit=kit, catalog=catalog)  # the prompts file is valid as written
            return (f"{len(generated)} prompts generated from the dataset's held-out split (no --prompts given)",
                    {"path": str(prompts_path), "sha256": atomic.sha256_file(prompts_path), "source": "generated"})

        prompts_sha = atomic.sha256_file(self.prompts_path) if self.prompts_path else None
        pr = self._run("prompts", _sha(ds["sha256"], prompts_sha), prompts_step, file_there)

        # 6. train
        def train_step():
            from core.model import load_base_model
            from tuning.registry import Registry
            from tuning.train import TrainConfig, run_training

            lm = load_base_model(s.model, s.model_cache)
            ref, result = run_training(lm=lm, dataset_path=dataset_path, registry=Registry(s.adapter_root),
                                       name=self.name, cfg=self.train_config or TrainConfig(), kit_sha256=kit.sha256,
                                       notes="onbrand onboard")
            return (f"{ref.key}: {result.steps} steps, loss {result.loss_curve[0]['loss']:.2f} -> "
                    f"{result.loss_curve[-1]['loss']:.2f}", {"adapter": ref.key})

        def adapter_there(outputs: dict) -> bool:
            from tuning.registry import Registry
            name, version = split_key(outputs.get("adapter", ""))
            return bool(version) and version in Registry(s.adapter_root).versions(name)

        tr = self._run("train", _sha(ds["sha256"], kit_sha, s.model, _code_version("tuning/train.py"),
                                     repr(self.train_config)),
                       train_step, adapter_there)

        # 7. eval --gate
        report_dir = self.folder / "report"

        def eval_step():
            from tqdm.auto import tqdm

            from evaluation.metrics import load_cases
            from evaluation.scorecard import VARIANTS
            from onbrand.assistant import Assistant
            from onbrand.evaluate import evaluate

            cases = load_cases(Path(pr["path"]), kit=kit, catalog=catalog)
            assistant = Assistant.load(replace(s, adapter=tr["adapter"]), show_progress_bar=True)
            with tqdm(total=len(cases) * len(VARIANTS), desc="Scoring variants", unit="answer") as bar:
                result = evaluate(assistant, cases, catalog, Path(pr["path"]), report_dir,
                                  max_new_tokens=self.max_new_tokens, prompts_source=pr["source"],
                                  progress=lambda done, total: bar.update(done - bar.n) if bar.total == total
                                     else (bar.reset(total), bar.update(done)))
            a = result.summary["rag_adapter"]
            figures = ", ".join(f"{m} {a[m]['value']:.1%}" for m in ("answered", "contradicted", "clean",
                                                                      "approved_name_rate", "disclaimer_compliance")
                                if a.get(m, {}).get("value") is not None)
            verdict = "PASSED" if result.verdict["passed"] else "FAILED"
            return (f"gate {verdict}; RAG + adapter: {figures}",
                    {"passed": result.verdict["passed"], "report": str(result.paths["markdown"]),
                     "failed": [c["check"] for c in result.verdict["checks"] if not c["passed"]]})

        ev = self._run("eval", _sha(tr["adapter"], pr["sha256"], catalog_sha, kit_sha), eval_step,
                       lambda outputs: Path(outputs.get("report", "")).is_file())
        return {"adapter": tr["adapter"], "gate_passed": ev["passed"], "report": ev["report"],
                "failed_checks": ev.get("failed", []), "prompts": pr["source"],
                "steps": [{"step": r.step, "skipped": r.skipped, "seconds": round(r.seconds, 1), "summary": r.summary}
                          for r in self.results]}


def _code_version(*relative: str) -> str:
    """A step re-runs when the code that makes its output changes (the builder and its templates, the
    trainer)."""
    from tuning.registry import REPO_ROOT
    return _sha(*(atomic.sha256_file(REPO_ROOT / r) if (REPO_ROOT / r).is_file() else "" for r in relative))
