"""The `onbrand` command: one entry point, one plain function per subcommand.

    onbrand index build --catalog corpus/sample/catalog.jsonl
    onbrand ask "how much is the trailform 28?"
    onbrand eval-retrieval          # hit@3 on corpus/sample/questions.jsonl
    onbrand bench > bench.json

Results go to stdout (JSON where a program may read them); logs and progress bars go to stderr.
Errors a user can cause print as readable lines and exit with status 2.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from dataclasses import asdict, replace
from pathlib import Path

from core import config
from core.errors import UserError
from core.refs import adapter_key
from corpus import SAMPLE_BRAND_KIT, SAMPLE_CATALOG, SAMPLE_DATASET, SAMPLE_EVAL_PROMPTS, SAMPLE_QUESTIONS

log = logging.getLogger("onbrand")
GATE_MARGIN, GATE_TOLERANCE = 0.10, 0.05  # evaluation.gate.GateConfig's defaults, without importing it here


def _settings(args) -> config.Settings:
    try:  # Settings validates itself (ValueError naming the field); for the CLI that is a user error
        chosen = {key: getattr(args, key) for key in ("index_name", "model", "brand_kit", "adapter", "backend",
                                                      "base_url", "api_key") if getattr(args, key, None) is not None}
        s = config.Settings.from_env(home=config.home(args.home), **chosen)
    except ValueError as e:
        raise UserError(str(e)) from None
    if getattr(args, "no_adapter", False):
        s = replace(s, adapter=None)
    return s


def _check_args(args) -> None:
    """Bounds argparse cannot state, checked before any model loads: a bad value is one error line, not a
    traceback (--threads -1), a silent default (--max-new-tokens 0) or a slice from the end (-k -1)."""
    if args.threads is not None and args.threads < 1:
        raise UserError(f"--threads must be at least 1, got {args.threads}")
    k = getattr(args, "k", None)
    if k is not None and k < 1:
        raise UserError(f"-k must be at least 1, got {k}")
    tokens, limit = getattr(args, "max_new_tokens", None), config.Settings.max_new_tokens_limit
    if tokens is not None and not 1 <= tokens <= limit:
        raise UserError(f"--max-new-tokens must be in 1..{limit}, got {tokens}")
    question = getattr(args, "question", None)
    if question is not None:  # the same rule as Assistant.check_question, before a 1.4 GB model loads
        q, most = question.strip(), config.Settings.max_question_chars
        if not q:
            raise UserError("the question is empty")
        if len(q) > most:
            raise UserError(f"the question is {len(q)} characters; the limit is {most}")


def _emit(obj) -> None:
    print(json.dumps(obj, indent=2, ensure_ascii=False))


def cmd_ingest(args) -> int:
    """Validate a catalog file without indexing it; print a summary."""
    from corpus.ingest import load_catalog, load_mapping

    cat = load_catalog(args.catalog, fmt=args.format, mapping=load_mapping(args.map))
    collections = sorted({p.collection for p in cat.products})
    _emit({"file": cat.source, "format": cat.fmt, "products": len(cat), "collections": collections,
           "sha256": cat.sha256()})
    return 0


def cmd_index_build(args) -> int:
    """Validate the catalog, embed it and publish a new index version (the old one stays on any error)."""
    from corpus.brandkit import load_brand_kit
    from corpus.ingest import load_catalog, load_mapping
    from rag.embedding import Embedder
    from rag.index_store import build_index

    s = _settings(args)
    catalog = load_catalog(args.catalog, fmt=args.format, mapping=load_mapping(args.map))
    kit = load_brand_kit(s.brand_kit) if s.brand_kit else None
    embedder = Embedder.load()
    version = build_index(catalog, embedder, s.index_root, s.index_name, kit=kit, show_progress_bar=True)
    _emit({"index": s.index_name, "version": version, "products": len(catalog),
           "path": str(s.index_root / s.index_name / "versions" / version)})
    return 0


def cmd_index_show(args) -> int:
    """Print the manifest of the published (or given) index version, after verifying it, and whether it
    still holds its catalog (catalog_status: stale when the file changed or is another catalog)."""
    from corpus.ingest import load_catalog
    from rag.embedding import Embedder
    from rag.index_store import load_index, versions
    from rag.refresh import catalog_status

    s = _settings(args)
    idx = load_index(s.index_root, s.index_name, Embedder.load().info, version=args.version)
    # the configured catalog for the sample index, else the file the version was made from
    source = args.catalog or (s.catalog if s.index_name == config.Settings.index_name
                              else idx.manifest["catalog"].get("source"))
    try:
        status = catalog_status(idx.manifest, load_catalog(source))
    except (UserError, OSError) as e:
        status = {"up_to_date": None, "catalog_file": str(source), "message": f"cannot check: {e}".splitlines()[0]}
    if status["message"]:
        log.warning("%s", status["message"])
    _emit({"version": idx.version, "versions": versions(s.index_root, s.index_name),
           "age_seconds": round(idx.age_seconds()), "catalog_status": status, "manifest": idx.manifest})
    return 0


def cmd_index_versions(args) -> int:
    """List the index versions, oldest first: kind (build/refresh), parent, counts, which one is CURRENT."""
    from rag.index_store import current_version, version_rows

    s = _settings(args)
    _emit({"index": s.index_name, "current": current_version(s.index_root, s.index_name),
           "versions": version_rows(s.index_root, s.index_name)})
    return 0


def cmd_index_rollback(args) -> int:
    """Point CURRENT back at the version it replaced (or --to VERSION) after verifying it; running apps
    switch on their next question. Nothing is deleted."""
    from rag.embedding import Embedder
    from rag.index_store import rollback

    s = _settings(args)
    was, now = rollback(s.index_root, s.index_name, to=args.to, embedder=Embedder.load().info)
    _emit({"index": s.index_name, "from": was, "current": now})
    return 0


def cmd_refresh(args) -> int:
    """Diff a catalog export against the indexed one by product id and content hash, embed only new and
    changed products, drop removed ones and publish a new index version atomically; the app and CLI pick it
    up without a restart. Prints added/changed/removed/unchanged; prunes to --keep versions."""
    import time

    from corpus.brandkit import load_brand_kit
    from corpus.ingest import load_catalog, load_mapping
    from rag.embedding import Embedder
    from rag.refresh import refresh_index, watch

    s = _settings(args)
    keep = s.index_keep_versions if args.keep is None else args.keep
    if keep < 1:
        raise UserError(f"--keep must be at least 1, got {keep}")
    mapping = load_mapping(args.map)
    kit = load_brand_kit(s.brand_kit) if s.brand_kit else None
    embedder = Embedder.load()

    def once():
        t0 = time.perf_counter()
        catalog = load_catalog(args.catalog, fmt=args.format, mapping=mapping)
        parse_s = round(time.perf_counter() - t0, 3)
        result = refresh_index(catalog, embedder, s.index_root, s.index_name, kit=kit, keep=keep,
                               replace=args.replace, show_progress_bar=True)
        return {**result.to_json(), "catalog_parse_seconds": parse_s}

    if args.watch:
        watch(Path(args.catalog), once, interval=args.interval,
              on_result=lambda r: print(json.dumps(r, ensure_ascii=False), flush=True))
        return 0
    _emit(once())
    return 0


def cmd_retrieve(args) -> int:
    """Print the top-k products for a question, with their chunks and scores (no generation)."""
    from rag.embedding import Embedder
    from rag.index_store import load_index
    from rag.retrieval import Retriever

    s = _settings(args)
    emb = Embedder.load()
    retriever = Retriever(load_index(s.index_root, s.index_name, emb.info), emb)
    hits = retriever.retrieve(args.question, k=args.k, collection=args.collection, in_stock=args.in_stock or None,
                              settings=s.retrieval)
    _emit([asdict(h) for h in hits])
    return 0


def cmd_ask(args) -> int:
    """Answer a question from the catalog with the base model, streaming, then list the sources."""
    from onbrand.assistant import Assistant

    s = _settings(args)
    assistant = Assistant.load(s, show_progress_bar=True)
    reply = assistant.ask(args.question, k=args.k, collection=args.collection, in_stock=args.in_stock or None,
                          max_new_tokens=args.max_new_tokens, brand_rules=args.brand_rules)
    for piece in reply.stream:
        if not args.json:
            sys.stdout.write(piece)
            sys.stdout.flush()
    answer = reply.answer
    if args.json:
        _emit({"answer": answer.text, "adapter": answer.adapter, **answer.to_json()})
    else:
        pinned = answer.snapshot
        print(f"\n\n[{answer.adapter or 'base model, no adapter'} · index {pinned.index.name}/{pinned.index.version}]"
              " Sources:")
        for src in answer.sources:
            print(f"  {src.product_id:<14} {src.approved_name:<40} {src.field:<12} {src.score:.3f}")
        for f in answer.fills:
            print(f"  filled: {f.label}")
        for b in answer.badges:
            print(f"  [{b.label}] {b.detail}")
    return 0


def cmd_eval_retrieval(args) -> int:
    """Hit@k on a questions file ({"question", "product_ids"} per line); exit 1 below --min-hit-rate."""
    from rag.embedding import Embedder
    from rag.index_store import load_index
    from rag.retrieval import Retriever

    s = _settings(args)
    emb = Embedder.load()
    retriever = Retriever(load_index(s.index_root, s.index_name, emb.info), emb)
    rows = [json.loads(line) for line in Path(args.questions).read_text(encoding="utf-8").splitlines() if line.strip()]
    k = args.k or s.top_k
    misses, hits, top1 = [], 0, 0
    for row in rows:
        got = [ph.product_id for ph in retriever.retrieve(row["question"], k=k, settings=s.retrieval)]
        top1 += bool(got) and got[0] in row["product_ids"]
        if set(got) & set(row["product_ids"]):
            hits += 1
        else:
            misses.append({"question": row["question"], "expected": row["product_ids"], "got": got})
    rate = hits / len(rows) if rows else 0.0
    _emit({"questions": len(rows), "k": k, "hits": hits, "hit_rate": round(rate, 4),
           "hit_at_1": round(top1 / len(rows), 4) if rows else 0.0, "misses": misses})
    return 0 if rate >= args.min_hit_rate else 1


def cmd_eval_prices(args) -> int:
    """Ask "how much is the <approved name>?" for N products (seeded sample) with the real model; print
    the share of answers that state the product's current price and that list it as the top source."""
    import random

    from onbrand.assistant import Assistant

    assistant = Assistant.load(_settings(args), show_progress_bar=True)
    products = sorted(assistant.index.products.values(), key=lambda p: p.id)
    chosen = random.Random(args.seed).sample(products, min(args.n, len(products)))
    stated = top_source = 0
    rows = []
    for p in chosen:
        name = assistant.kit.approved_name(p.id, p.name) if assistant.kit else p.name
        reply = assistant.answer(f"how much is the {name}?", max_new_tokens=60)
        price = f"{p.current_price:,.2f}"
        ok = price in reply.text
        stated += ok
        top_source += bool(reply.sources) and reply.sources[0].product_id == p.id
        rows.append({"id": p.id, "price": price, "stated": ok, "answer": reply.text})
    n = len(chosen)
    _emit({"products": n, "price_stated": stated, "price_stated_rate": round(stated / n, 4),
           "top_source_rate": round(top_source / n, 4), "answers": rows if args.show else None})
    return 0


def cmd_lint(args) -> int:
    """Check catalog, brand kit and (optionally) a dataset for what tuning would memorise; exit 1 on errors."""
    from tuning.lint import lint

    report = lint(args.catalog, args.brand_kit, args.dataset)
    for f in report.findings:
        print(str(f), file=sys.stderr)
    _emit({k: v for k, v in report.to_json().items() if k != "findings"})
    return 1 if report.errors else 0


def cmd_dataset(args) -> int:
    """Build the brand-behaviour dataset (JSONL + .sha256) from catalog + brand kit with the real retriever."""
    from corpus.brandkit import load_brand_kit
    from corpus.ingest import load_catalog
    from onbrand.assistant import ensure_index
    from rag.embedding import Embedder
    from rag.index_store import load_index
    from rag.retrieval import Retriever
    from tuning.dataset import DatasetConfig, build_dataset, overlap_report, write_dataset

    s = _settings(args)
    kit = load_brand_kit(s.brand_kit)
    catalog = load_catalog(args.catalog)
    emb = Embedder.load()
    ensure_index(replace(s, catalog=Path(args.catalog)), emb, kit, show_progress_bar=True)
    retriever = Retriever(load_index(s.index_root, s.index_name, emb.info), emb)
    from tqdm.auto import tqdm

    with tqdm(total=len(catalog), desc="Building examples", unit="product") as bar:
        rows = build_dataset(catalog, kit, retriever, DatasetConfig(seed=args.seed),
                             progress=lambda done, total: bar.update(done - bar.n) if bar.total == total
                                     else (bar.reset(total), bar.update(done)))
    sha = write_dataset(rows, Path(args.out))
    overlap = overlap_report([r.to_json() for r in rows])
    _emit({"path": args.out, "sha256": sha, **overlap})
    return 0 if overlap["prompt_overlap"] == overlap["template_overlap"] == overlap["product_overlap"] == 0 else 1


def cmd_train(args) -> int:
    """Train a LoRA adapter on a dataset snapshot and register it as a new version (refuses on lint errors
    unless --override-lint REASON, which is recorded in the manifest)."""
    from core.model import load_base_model
    from corpus.brandkit import load_brand_kit
    from tuning.lint import lint
    from tuning.registry import Registry
    from tuning.train import TrainConfig, run_training

    s = _settings(args)
    report = lint(args.catalog, s.brand_kit, args.dataset)
    override = None
    if report.errors:
        for f in report.errors:
            print(str(f), file=sys.stderr)
        if not args.override_lint:
            raise UserError(f"lint found {len(report.errors)} error(s); fix them or pass --override-lint REASON")
        override = {"reason": args.override_lint, "errors": [str(f) for f in report.errors]}
    cfg = TrainConfig(**{k: v for k, v in {"max_steps": args.max_steps, "epochs": args.epochs,
                                           "learning_rate": args.lr, "lora_rank": args.rank,
                                           "seed": args.seed}.items() if v is not None})
    kit = load_brand_kit(s.brand_kit)
    lm = load_base_model(s.model, s.model_cache)
    ref, result = run_training(lm=lm, dataset_path=Path(args.dataset), registry=Registry(s.adapter_root),
                               name=args.name, cfg=cfg, kit_sha256=kit.sha256, lint_override=override,
                               notes=args.notes or "")
    if args.promote:  # serving's load checks on the base already in memory (LoRA layers stripped): no reload
        lm.model = result.model.unload()
        reg = Registry(s.adapter_root)
        reg.promote(ref.name, ref.version, force=True, reason="--promote at train time",
                    check=_serving_check(s, reg, lm))
    _emit({"adapter": ref.name, "version": ref.version, "path": str(ref.path), "seconds": round(result.seconds, 1),
           "steps": result.steps, "first_loss": result.loss_curve[0]["loss"],
           "last_loss": result.loss_curve[-1]["loss"], "eval_curve": result.eval_curve})
    return 0


def cmd_onboard(args) -> int:
    """A merchant's catalog export and brand kit to a gated adapter in one command: ingest, lint, index,
    dataset, prompts, train, eval --gate; stops at the first blocking problem; a re-run skips the steps whose
    inputs did not change. Exit 1 when the gate fails."""
    from onbrand.onboard import Onboarding
    from tuning.registry import _NAME_RE

    name = args.name
    problem = config.index_name_problem(name)
    if problem or not _NAME_RE.fullmatch(name):
        raise UserError(f"--name {name!r}: {problem or 'use letters, digits, -, _ or .'} (it names the adapter "
                        "and the index)")
    run = Onboarding(_settings(args), name, args.catalog, args.brand_kit, args.prompts, args.format, args.map,
                     say=lambda line: print(line, file=sys.stderr, flush=True))
    result = run.run()
    _emit(result)
    print(f"gate {'PASSED' if result['gate_passed'] else 'FAILED'}; report: {result['report']}", file=sys.stderr)
    return 0 if result["gate_passed"] else 1


def _serving_check(s: config.Settings, registry, lm=None):
    """The checks serving runs before an adapter answers (tuning.loading.AdapterSet.load: no pickles, file
    hashes, the base it was trained on, keys, the no-op canary), for `promote`. The cheap file checks run
    first; the base (s.model, or `lm` when it is loaded already) loads only when they pass, and once."""
    from tuning.loading import AdapterRefused, AdapterSet, check_files

    def check(ref) -> None:
        what = f"adapter {ref.key}"
        check_files(ref.path, what, ref.manifest)
        from core.model import load_base_model

        base = lm if lm is not None else load_base_model(s.model, s.model_cache)
        try:
            AdapterSet(base).load(ref, registry)
        except UserError:
            raise
        except Exception as e:  # a file whose header reads but whose weights do not load
            raise AdapterRefused(f"{what} cannot be loaded: {type(e).__name__}: "
                                 f"{(str(e).splitlines() or [''])[0]}") from None

    return check


def cmd_adapters(args) -> int:
    """List, show, promote, roll back or remove adapter versions in the registry. `promote` runs the checks
    serving runs (it loads the base given by --model) and refuses a version that would not load."""
    from tuning.registry import Registry

    reg = Registry(_settings(args).adapter_root)
    if args.action == "list":
        _emit(reg.list())
    elif args.action == "show":
        ref = reg.get(args.name, args.version)
        reg.verify(ref)
        _emit({"name": ref.name, "version": ref.version, "path": str(ref.path),
               "promoted": reg.promoted(ref.name) == ref.version, "manifest": ref.manifest})
    elif args.action == "promote":
        ref = reg.promote(args.name, args.version, force=args.force, reason=args.reason or "", require_gate=True,
                          check=_serving_check(_settings(args), reg))
        _emit({"promoted": ref.key})
    elif args.action == "rollback":
        ref = reg.rollback(args.name)
        _emit({"promoted": ref.key})
    elif args.action == "rm":
        reg.rm(args.name, args.version)
        _emit({"removed": adapter_key(args.name, args.version)})
    elif args.action == "export":  # onbrand adapters export NAME@VERSION DIR
        from tuning.export import export_adapter

        if not args.name or not args.version:
            raise UserError("usage: onbrand adapters export NAME[@VERSION] DIR")
        _emit(export_adapter(reg, args.name, Path(args.version)).to_json())
    return 0


def cmd_eval_naming(args) -> int:
    """Base vs adapter on the dataset's held-out prompts (retrieval on, one mixed batch per prompt):
    approved vs deprecated name mentions, missing disclaimers and stated prices, as counts."""
    from onbrand.assistant import Assistant
    from tuning.dataset import read_dataset
    from evaluation.naming import compare_naming

    s = _settings(args)
    assistant = Assistant.load(s)
    if assistant.default_adapter is None:
        raise UserError("eval-naming needs an adapter: pass --adapter NAME[@VERSION]")
    rows, sha = read_dataset(Path(args.dataset))
    held = [r for r in rows if r["split"] == "eval" and r["has_context"]][: args.n]
    from tqdm.auto import tqdm

    with tqdm(total=len(held), desc="Answering held-out prompts", unit="prompt") as bar:
        result = compare_naming(assistant, assistant.default_adapter, held,
                                progress=lambda done, total: bar.update(done - bar.n))
    _emit({"adapter": assistant.default_adapter, "dataset_sha256": sha, "prompts": len(held), **result})
    return 0


def cmd_eval(args) -> int:
    """The variants scorecard: held-out prompts through base, base + prompt, RAG, RAG + prompt, adapter and
    RAG + adapter; Markdown + JSON + PNG report; the ship gate (with --gate, exit 1 when it fails).

    The results, gate verdict included, are written into the adapter version's manifest (full runs only),
    bound to the scorecard.json by its sha256 and its path under the onbrand home or the repository; that is
    what `adapters promote` re-checks. A version to ship in the repository is evaluated with
    `--out reports/<name>-<version>`, so its binding resolves in any clone."""
    from tqdm.auto import tqdm

    from corpus.brandkit import load_brand_kit
    from corpus.ingest import load_catalog, load_mapping
    from evaluation.gate import GateConfig
    from evaluation.metrics import load_cases
    from evaluation.scorecard import VARIANTS
    from onbrand.assistant import Assistant
    from onbrand.evaluate import evaluate
    from rag.embedding import Embedder
    from rag.index_store import build_index, current_version

    s = replace(_settings(args), catalog=Path(args.catalog))
    if s.adapter is None:
        raise UserError("eval compares an adapter with the simpler setups: pass --adapter NAME[@VERSION]")
    catalog = load_catalog(s.catalog, fmt=args.format, mapping=load_mapping(args.map))
    kit = load_brand_kit(s.brand_kit) if s.brand_kit else None
    cases = load_cases(Path(args.prompts), kit=kit, catalog=catalog)
    if args.n is not None:
        cases = cases[:args.n]
    if current_version(s.index_root, s.index_name) is None:  # first run on this catalog: index it
        build_index(catalog, Embedder.load(), s.index_root, s.index_name, kit=kit, show_progress_bar=True)
    assistant = Assistant.load(s, show_progress_bar=True)
    if assistant.kit is None:
        raise UserError("eval needs a brand kit: pass --brand-kit")
    indexed = assistant.index.manifest["catalog"]["sha256"]
    if indexed != catalog.sha256():
        raise UserError(f"index {assistant.index.name}/{assistant.index.version} was built from another catalog "
                        f"(sha256 {indexed[:12]}…) than {s.catalog} ({catalog.sha256()[:12]}…); pass "
                        "--index-name for this catalog or refresh the index")
    with tqdm(total=len(cases) * len(VARIANTS), desc="Scoring variants", unit="answer") as bar:
        result = evaluate(assistant, cases, catalog, Path(args.prompts), out=Path(args.out) if args.out else
                          s.home / "reports" / assistant.default_adapter.replace("@", "-"),
                          max_new_tokens=args.max_new_tokens, cases_per_batch=args.batch, in_flight=args.in_flight,
                          partial=args.n is not None,
                          cfg=GateConfig(**{k: v for k, v in (("margin", args.margin), ("tolerance", args.tolerance))
                                            if v is not None}),
                          progress=lambda done, total: bar.update(done - bar.n) if bar.total == total
                                     else (bar.reset(total), bar.update(done)))
    verdict, summary, record = result.verdict, result.summary, result.record
    _emit({"adapter": result.adapter, "prompts": result.cases, "minutes": round(result.seconds / 60, 2),
           "gate_passed": verdict["passed"], "held_out": result.held_out["held_out"],
           "written_to_manifest": record is not None, "scorecard_bound": bool(record and record["scorecard"]),
           "report": {k: str(v) for k, v in result.paths.items()},
           "rag_adapter": {m: st["value"] for m, st in summary["rag_adapter"].items()}})
    return 1 if args.gate and not verdict["passed"] else 0


def cmd_eval_compare(args) -> int:
    """Does a scorecard reproduce a reference one (another backend, machine or batch shape)? Each of the
    reference's figures against its 95% interval; exit 1 when one falls outside."""
    from evaluation.compare import reproduce

    docs = []
    for path in (args.reference, args.run):
        try:
            docs.append(json.loads(Path(path).read_text(encoding="utf-8")))
        except (OSError, ValueError) as e:
            raise UserError(f"{path}: not a readable scorecard.json ({e})") from None
    try:
        result = reproduce(*docs)
    except ValueError as e:
        raise UserError(str(e)) from None
    except KeyError as e:
        raise UserError(f"{args.reference} or {args.run}: not a scorecard.json (no field {e})") from None
    _emit({k: v for k, v in result.items() if k != "rows" or args.all})
    return 0 if not result["outside"] else 1


def cmd_serve(args) -> int:
    """Serve the assistant over an OpenAI-compatible HTTP API until interrupted: POST /v1/chat/completions
    (streamed or not; `model` = NAME@VERSION, NAME or the base's hub id) and GET /v1/models. Prints
    {"url": ...} once it accepts connections. Listens on 127.0.0.1 unless --host says otherwise."""
    import os

    from onbrand.api import serve
    from onbrand.assistant import Assistant
    from onbrand.serving import DEFAULT_MAX_BATCH, DEFAULT_MAX_WAITING, Server

    if not 0 <= args.port <= 65535:
        raise UserError(f"--port must be in 0..65535, got {args.port}")
    waiting = args.max_waiting
    if waiting is None:
        env = os.environ.get("ONBRAND_MAX_WAITING", str(DEFAULT_MAX_WAITING))
        if not env.isdigit():
            raise UserError(f"ONBRAND_MAX_WAITING must be a whole number, got {env!r}")
        waiting = int(env)
    if waiting < 0:
        raise UserError(f"--max-waiting must be at least 0, got {waiting}")
    batch = DEFAULT_MAX_BATCH if args.max_batch is None else args.max_batch
    if not 1 <= batch <= 32:  # the generator's rows (Generator.max_rows)
        raise UserError(f"--max-batch must be in 1..32, got {batch}")
    token = args.token or os.environ.get("ONBRAND_SERVE_TOKEN") or None
    assistant = Assistant.load(_settings(args), show_progress_bar=True)
    assistant.warm()  # before it listens: the first request waits for an answer, not for the weights

    def ready(url: str) -> None:
        print(json.dumps({"url": url, "base_model": assistant.backend.base_model,
                          "default_adapter": assistant.default_adapter, "token_required": token is not None,
                          "max_waiting": waiting, "max_batch": batch}), flush=True)

    serve(Server(assistant, max_waiting=waiting, max_batch=batch), host=args.host, port=args.port, token=token, on_ready=ready,
          log_level="info" if args.verbose else "warning")
    return 0


def cmd_prepare(args) -> int:
    """Do the one-time work before the app starts: convert the model, build the sample index if missing."""
    from core.model import convert_gguf, default_gguf
    from corpus.brandkit import load_brand_kit
    from onbrand.assistant import ensure_index
    from rag.embedding import Embedder

    s = _settings(args)
    if s.model == config.DEFAULT_MODEL:
        folder, _ = convert_gguf(default_gguf(), s.model_cache)
        log.info("default model ready at %s", folder)
    kit = load_brand_kit(s.brand_kit) if s.brand_kit else None
    version = ensure_index(s, Embedder.load(), kit, show_progress_bar=True)
    _emit({"home": str(s.home), "index": s.index_name, "version": version})
    return 0


def cmd_bench(args) -> int:
    """Print JSON: embedding throughput, query latency (sample and synthetic catalog), TTFT, decode tok/s,
    the memory-bandwidth bound on decode, and a one-product refresh vs a full rebuild."""
    from onbrand.bench import run_bench

    _emit(run_bench(_settings(args), synthetic_products=args.synthetic_products, queries=args.queries,
                    gen_tokens=args.gen_tokens, gen_runs=args.gen_runs, only=args.only,
                    concurrency=tuple(args.concurrency)))
    return 0


def cmd_spotchecks(args) -> int:
    """Export spot-check verdicts recorded in the app as JSONL evaluation cases (stdout or --out), filtered."""
    from core import atomic
    from onbrand.spotchecks import SPOTCHECKS_FILE, SpotChecks, export_jsonl

    path = config.home(args.home) / SPOTCHECKS_FILE
    if not path.exists():
        raise UserError(f"{path}: no spot checks recorded yet (record verdicts in the app first)")
    rows = SpotChecks.open(path).verdicts(verdict=args.verdict, reason=args.reason, adapter=args.adapter,
                                          reviewer=args.reviewer)
    text = export_jsonl(rows)
    if args.out:
        atomic.write_text(Path(args.out), text)
        log.info("%d verdicts written to %s", len(rows), args.out)
    else:
        sys.stdout.write(text)
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="onbrand", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--home", help="artifact root (models, indexes); default $ONBRAND_HOME or ~/.cache/onbrand")
    p.add_argument("-v", "--verbose", action="store_true", help="log debug detail to stderr")
    p.add_argument("--threads", type=int, default=None,
                   help="torch CPU threads (default: torch's choice; 1 degrades gracefully on a busy machine, "
                        "2 threads slow down 4-14x when another process competes for 2 cores)")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name, fn, parent=sub):
        sp = parent.add_parser(name, help=fn.__doc__.split("\n")[0], description=fn.__doc__)
        sp.set_defaults(func=fn)
        return sp

    def catalog_args(sp, positional: bool):
        if positional:
            sp.add_argument("catalog", help="catalog file (.jsonl, .csv or a Shopify product export .csv)")
        else:
            sp.add_argument("--catalog", default=str(SAMPLE_CATALOG), help="catalog file (default: the sample merchant)")
        sp.add_argument("--format", choices=["jsonl", "csv", "shopify"],
                        help="input format; default guessed from the suffix and the CSV header")
        sp.add_argument("--map", help="plain CSV: field=Column pairs ('name=Title,price=Price') or a JSON file; "
                                      "any format: price_decimal=comma for prices written 1.234,50")

    def index_name(sp):
        sp.add_argument("--index-name", default=None, help="which catalog's index (default: sample)")

    def adapter_args(sp):
        sp.add_argument("--adapter", help="NAME (its promoted version) or NAME@VERSION (default: fernhollow)")
        sp.add_argument("--no-adapter", action="store_true", help="answer with the bare base model")

    def backend_args(sp):
        sp.add_argument("--backend", choices=config.BACKENDS,
                        help="where answers are generated: local (the model in this process; default) or openai "
                             "(an OpenAI-compatible server at --base-url: vLLM, onbrand serve); $ONBRAND_BACKEND")
        sp.add_argument("--base-url", help="the openai backend's server, e.g. http://127.0.0.1:8000/v1 "
                                           "($ONBRAND_BASE_URL)")
        sp.add_argument("--api-key", help="its bearer token, if it wants one ($ONBRAND_API_KEY; the variable keeps "
                                          "it out of the process list)")

    def query_args(sp):
        sp.add_argument("question", help="the shopper's question")
        sp.add_argument("-k", type=int, default=None, help="products to retrieve (default: the app's, 3)")
        sp.add_argument("--collection", help="only products of this collection/line")
        sp.add_argument("--in-stock", action="store_true", help="only in-stock or low-stock products")
        sp.add_argument("--brand-kit", type=Path, default=None, help="brand kit YAML (default: the sample's)")
        index_name(sp)

    catalog_args(add("ingest", cmd_ingest), positional=True)

    index = sub.add_parser("index", help="build or inspect the FAISS index")
    isub = index.add_subparsers(dest="index_command", required=True, metavar="ACTION")
    sp = add("build", cmd_index_build, isub)
    catalog_args(sp, positional=False)
    sp.add_argument("--brand-kit", type=Path, default=SAMPLE_BRAND_KIT, help="brand kit YAML (approved names)")
    index_name(sp)
    sp = add("show", cmd_index_show, isub)
    sp.add_argument("--version", help="a version id such as v0002 (default: the published one)")
    sp.add_argument("--catalog", help="catalog file to check it against (default: the configured one for the "
                                      "sample index, else the file the version was made from)")
    index_name(sp)
    index_name(add("versions", cmd_index_versions, isub))
    sp = add("rollback", cmd_index_rollback, isub)
    sp.add_argument("--to", help="a version id such as v0002 (default: the version the current one replaced)")
    index_name(sp)

    sp = add("refresh", cmd_refresh)
    catalog_args(sp, positional=True)
    sp.add_argument("--brand-kit", type=Path, default=None, help="brand kit YAML (default: the sample's)")
    sp.add_argument("--keep", type=int, default=None, help="index versions to keep (default 5; CURRENT and the "
                                                           "version it replaced are never pruned)")
    sp.add_argument("--replace", action="store_true",
                    help="accept a catalog that shares no product id with the indexed one")
    sp.add_argument("--watch", action="store_true", help="keep running: refresh again whenever the file changes")
    sp.add_argument("--interval", type=float, default=2.0, help="--watch: seconds between checks (default 2)")
    index_name(sp)

    query_args(add("retrieve", cmd_retrieve))
    sp = add("ask", cmd_ask)
    query_args(sp)
    sp.add_argument("--model", help="'default' (bundled SmolLM2-135M GGUF), a hub id or a local folder")
    sp.add_argument("--max-new-tokens", type=int, default=None, help="answer length bound (default 200)")
    sp.add_argument("--brand-rules", action="store_true", help="add the brand kit's rules to the system prompt")
    sp.add_argument("--json", action="store_true", help="print one JSON object instead of streaming text")
    adapter_args(sp)
    backend_args(sp)

    sp = add("eval-retrieval", cmd_eval_retrieval)
    sp.add_argument("--questions", default=str(SAMPLE_QUESTIONS), help="JSONL of {question, product_ids}")
    sp.add_argument("-k", type=int, default=None,
                    help="hit if a wanted product is in the top k (default: the app's, 3); retrieval as the app's")
    sp.add_argument("--min-hit-rate", type=float, default=0.0, help="exit 1 when hit@k is below this")
    index_name(sp)

    sp = add("eval-prices", cmd_eval_prices)
    sp.add_argument("-n", type=int, default=30, help="products to ask about (default 30)")
    sp.add_argument("--seed", type=int, default=0, help="which products (default 0)")
    sp.add_argument("--show", action="store_true", help="include every answer in the output")
    sp.add_argument("--model", help="as for ask")
    adapter_args(sp)
    index_name(sp)

    sp = add("lint", cmd_lint)
    sp.add_argument("--catalog", default=str(SAMPLE_CATALOG), help="catalog file (default: the sample)")
    sp.add_argument("--brand-kit", default=str(SAMPLE_BRAND_KIT), help="brand kit YAML (default: the sample)")
    sp.add_argument("--dataset", help="a dataset JSONL to check too (targets: names, disclaimers, trademarks)")

    sp = add("dataset", cmd_dataset)
    sp.add_argument("--catalog", default=str(SAMPLE_CATALOG), help="catalog file (default: the sample)")
    sp.add_argument("--brand-kit", type=Path, default=None, help="brand kit YAML (default: the sample's)")
    sp.add_argument("--out", default=str(SAMPLE_DATASET), help="output JSONL (a .sha256 file is written beside it)")
    sp.add_argument("--seed", type=int, default=0, help="makes the dataset reproducible (default 0)")
    index_name(sp)

    sp = add("train", cmd_train)
    sp.add_argument("--dataset", default=str(SAMPLE_DATASET), help="dataset JSONL from `onbrand dataset`")
    sp.add_argument("--catalog", default=str(SAMPLE_CATALOG), help="catalog the dataset came from (for lint)")
    sp.add_argument("--brand-kit", type=Path, default=None, help="brand kit YAML (default: the sample's)")
    sp.add_argument("--name", default="fernhollow", help="adapter name in the registry (default fernhollow)")
    sp.add_argument("--model", help="base model, as for ask")
    sp.add_argument("--epochs", type=float, help="passes over the train split (default: TrainConfig.epochs)")
    sp.add_argument("--max-steps", type=int, help="stop after this many optimizer steps (smoke runs)")
    sp.add_argument("--lr", type=float, help="learning rate (default 1e-3)")
    sp.add_argument("--rank", type=int, help="LoRA rank (default 16)")
    sp.add_argument("--seed", type=int, help="training seed (default 0)")
    sp.add_argument("--override-lint", metavar="REASON", help="train despite lint errors; recorded in the manifest")
    sp.add_argument("--promote", action="store_true", help="promote the new version right away (recorded as forced)")
    sp.add_argument("--notes", help="free text stored in the manifest")

    sp = add("onboard", cmd_onboard)
    sp.add_argument("--catalog", required=True, type=Path, help="the merchant's catalog export")
    sp.add_argument("--brand-kit", required=True, type=Path, help="the merchant's brand kit YAML")
    sp.add_argument("--name", required=True, help="the merchant's name: its adapter and index are called this")
    sp.add_argument("--prompts", type=Path, help="held-out prompts JSONL (default: made from the dataset's eval split)")
    sp.add_argument("--format", choices=["jsonl", "csv", "shopify"], help="input format; default guessed")
    sp.add_argument("--map", help="plain CSV: field=Column pairs or a JSON file (as for ingest)")
    sp.add_argument("--model", help="base model, as for ask")

    sp = add("adapters", cmd_adapters)
    sp.add_argument("action", choices=["list", "show", "promote", "rollback", "rm", "export"])
    sp.add_argument("name", nargs="?", help="adapter name (show/promote/rollback/rm); export: NAME@VERSION")
    sp.add_argument("version", nargs="?", help="version such as v0002 (show: default the promoted one); export: "
                                               "the folder to write, a plain PEFT adapter with a model card")
    sp.add_argument("--force", action="store_true",
                    help="promote without a verified passing gate (the scorecard re-check); needs --reason")
    sp.add_argument("--reason", help="why (recorded with a forced promotion)")
    sp.add_argument("--model", help="promote: the base the version must load on, as for ask (default: the bundled "
                                    "model); serving's load checks run on it")

    sp = add("eval-naming", cmd_eval_naming)
    sp.add_argument("--dataset", default=str(SAMPLE_DATASET), help="dataset JSONL; its eval split is used")
    sp.add_argument("-n", type=int, default=10_000, help="at most this many held-out prompts")
    adapter_args(sp)
    index_name(sp)

    sp = add("eval-compare", cmd_eval_compare)
    sp.add_argument("reference", type=Path, help="the reference scorecard.json (e.g. the committed one)")
    sp.add_argument("run", type=Path, help="the re-run's scorecard.json")
    sp.add_argument("--all", action="store_true", help="print every metric's row, not only those outside")

    sp = add("eval", cmd_eval)
    sp.add_argument("--prompts", default=str(SAMPLE_EVAL_PROMPTS), help="held-out prompts JSONL with expectations")
    catalog_args(sp, positional=False)
    sp.add_argument("--brand-kit", type=Path, default=None, help="brand kit YAML (default: the sample's)")
    sp.add_argument("--model", help="as for ask")
    sp.add_argument("--out", help="report folder (default <home>/reports/<name>-<version>)")
    sp.add_argument("-n", type=int, default=None, help="only the first n prompts (a smoke run; not recorded)")
    sp.add_argument("--gate", action="store_true", help="exit 1 unless the ship gate passes")
    sp.add_argument("--margin", type=float, default=None,
                    help=f"points RAG + adapter must lead the best simpler variant by (default {GATE_MARGIN}; "
                         "promote re-checks with the default)")
    sp.add_argument("--tolerance", type=float, default=None,
                    help=f"largest allowed drop in grounding/format/not-in-catalog vs RAG (default {GATE_TOLERANCE}; "
                         "promote re-checks with the default)")
    sp.add_argument("--max-new-tokens", type=int, default=None, help="answer length bound (default 200)")
    sp.add_argument("--batch", type=int, default=8, help="prompts per batch (one pass per prompt shape)")
    sp.add_argument("--in-flight", type=int, default=6,
                    help="batches submitted at once; with more than 1 the decoding loop fills the places of "
                         "finished rows from the next batch")
    adapter_args(sp)
    backend_args(sp)
    index_name(sp)

    sp = add("serve", cmd_serve)
    sp.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine "
                                                         "only; 0.0.0.0 for every interface, with a --token)")
    sp.add_argument("--port", type=int, default=8080, help="port (default 8080; 0 picks a free one)")
    sp.add_argument("--token", help="bearer token every /v1 request must send (default $ONBRAND_SERVE_TOKEN, "
                                    "which keeps it out of the process list; none: no check)")
    sp.add_argument("--max-waiting", type=int, default=None,
                    help="requests waiting for a place in the decoding batch; one more is answered 429 "
                         "(default $ONBRAND_MAX_WAITING or 4)")
    sp.add_argument("--max-batch", type=int, default=None,
                    help="requests decoding together (default 8: interactive latency; 24-32 for a client that "
                         "sends batches, such as `onbrand eval --backend openai`)")
    sp.add_argument("--model", help="as for ask; its hub id is the base's model name in /v1/models")
    sp.add_argument("--brand-kit", type=Path, default=None, help="brand kit YAML (default: the sample's)")
    adapter_args(sp)
    backend_args(sp)
    index_name(sp)

    sp = add("prepare", cmd_prepare)
    sp.add_argument("--model", help="as for ask")
    index_name(sp)

    sp = add("spotchecks", cmd_spotchecks)
    sp.add_argument("action", choices=["export"])
    sp.add_argument("--verdict", choices=["approve", "flag"], help="only this verdict")
    sp.add_argument("--reason", choices=["wrong_name", "wrong_fact", "missing_disclaimer", "tone", "format", "other"],
                    help="only this reason")
    sp.add_argument("--adapter", help="only answers with this adapter: NAME or NAME@VERSION")
    sp.add_argument("--reviewer", help="only this reviewer's verdicts")
    sp.add_argument("--out", help="write the JSONL here (atomically) instead of stdout")

    sp = add("bench", cmd_bench)
    sp.add_argument("--synthetic-products", type=int, default=10_000, help="size of the synthetic catalog")
    sp.add_argument("--queries", type=int, default=200, help="queries timed per catalog size")
    sp.add_argument("--gen-tokens", type=int, default=64, help="new tokens per generation run")
    sp.add_argument("--gen-runs", type=int, default=5, help="generation runs (median reported)")
    sp.add_argument("--only", choices=["refresh", "side-by-side", "decode"],
                    help="run one section: refresh = refresh vs full rebuild on the synthetic catalog; "
                         "side-by-side = base + adapter in one batched pass vs a single answer (--gen-runs runs); "
                         "decode = the decoding loop: batch 1 vs the bandwidth bound, TTFT, concurrent requests")
    sp.add_argument("--concurrency", type=lambda v: [int(x) for x in v.split(",")], default=[1, 2, 4, 8],
                    help="concurrent requests to time, comma-separated (default 1,2,4,8)")
    sp.add_argument("--model", help="as for ask")
    index_name(sp)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, stream=sys.stderr,
                        format="%(levelname)s %(name)s: %(message)s")
    for noisy in ("httpx", "sentence_transformers", "transformers", "huggingface_hub", "faiss"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        _check_args(args)
        if args.threads:
            import torch

            torch.set_num_threads(args.threads)
        return args.func(args)
    except UserError as e:
        for line in str(e).splitlines():
            print(f"error: {line}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
