import json
from dataclasses import replace
from pathlib import Path

from onbrand.cli import build_parser, main
from rag.index_store import current_version, versions

FIXTURES = Path(__file__).parents[1] / "fixtures"
TINY_CATALOG = FIXTURES / "tiny_catalog.jsonl"
TINY_KIT = FIXTURES / "tiny_brand_kit.yaml"


def test_every_subcommand_has_help():
    parser = build_parser()
    text = parser.format_help()
    for cmd in ("ingest", "index", "retrieve", "ask", "eval-retrieval", "prepare", "bench"):
        assert cmd in text


def test_ingest_prints_a_summary(capsys):
    assert main(["ingest", str(TINY_CATALOG)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["products"] == 5 and out["format"] == "jsonl" and len(out["sha256"]) == 64


def test_broken_catalog_errors_and_leaves_the_index_untouched(tmp_path, capsys):
    home = tmp_path / "home"
    assert main(["--home", str(home), "index", "build", "--catalog", str(TINY_CATALOG),
                 "--brand-kit", str(TINY_KIT), "--index-name", "q"]) == 0
    root = home / "indexes"
    before = (current_version(root, "q"), versions(root, "q"))
    bad = tmp_path / "bad.jsonl"
    lines = TINY_CATALOG.read_text().splitlines()
    lines[1] = lines[1].replace('"price": 389.0', '"price": "lots"')
    lines.append(lines[0])  # duplicate id
    bad.write_bytes(("\n".join(lines) + "\n").encode())
    capsys.readouterr()
    code = main(["--home", str(home), "index", "build", "--catalog", str(bad), "--index-name", "q"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert any(f"{bad}:2: field 'price' value 'lots': must be a number" in e for e in err)
    assert any(f"{bad}:6: field 'id' value 'QK-TNT-01': duplicate id (first seen at line 1)" in e for e in err)
    assert len(err) == 2
    assert (current_version(root, "q"), versions(root, "q")) == before


def test_bad_bytes_name_the_offset(tmp_path, capsys):
    bad = tmp_path / "bad.jsonl"
    good = TINY_CATALOG.read_bytes()
    bad.write_bytes(good[:50] + b"\xff\xfe" + good[50:])
    assert main(["ingest", str(bad)]) == 2
    assert "not valid UTF-8 at byte offset 50" in capsys.readouterr().err


def test_retrieve_and_eval_retrieval_retrieve_as_the_app_does(tiny_index, embedder, tmp_path, capsys):
    """`onbrand retrieve` and `eval-retrieval` used the retriever's own defaults (three chunks a product, no
    score gap) where the app used Settings' (one chunk, gap 0.12): both now take Settings.retrieval."""
    from core.config import Settings
    from rag.index_store import load_index
    from rag.retrieval import Retriever

    root, name, _ = tiny_index
    app = Retriever(load_index(root, name, embedder.info), embedder)
    settings = Settings(home=tmp_path, index_name=name)
    questions = ["four person family tent", "stove headlamp tent boot", "quokka"]
    wide = [[p.product_id for p in app.retrieve(q, settings=replace(settings.retrieval, score_gap=None))]
            for q in questions]  # the same top k without the score gap
    served = []
    for q in questions:
        hits = app.retrieve(q, settings=settings.retrieval)
        served.append([p.product_id for p in hits])
        capsys.readouterr()
        assert main(["--home", str(tmp_path), "retrieve", q, "--index-name", name]) == 0
        printed = json.loads(capsys.readouterr().out)
        assert [(h["product_id"], len(h["hits"])) for h in printed] == [(p.product_id, len(p.hits)) for p in hits]
    assert any(len(s) < len(w) for s, w in zip(served, wide))  # the app's score gap dropped some: it is tested
    rows = tmp_path / "q.jsonl"
    rows.write_text("".join(json.dumps({"question": q, "product_ids": [w[-1]]}) + "\n" for q, w in zip(questions, wide)))
    capsys.readouterr()
    main(["--home", str(tmp_path), "eval-retrieval", "--questions", str(rows), "--index-name", name])
    out = json.loads(capsys.readouterr().out)
    assert out["k"] == settings.top_k
    assert out["hits"] == sum(w[-1] in s for s, w in zip(served, wide))


def test_settings_from_env_reads_the_environment_and_the_options_win(monkeypatch, tmp_path):
    from core.config import SAMPLE_BRAND_KIT, Settings

    for var in ("ONBRAND_INDEX", "ONBRAND_MODEL", "ONBRAND_ADAPTER", "ONBRAND_BRAND_KIT", "ONBRAND_BACKEND",
                "ONBRAND_BASE_URL", "ONBRAND_API_KEY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("ONBRAND_HOME", str(tmp_path))
    s = Settings.from_env()
    assert (s.home, s.index_name, s.adapter, s.brand_kit) == (tmp_path.resolve(), "sample", "fernhollow", SAMPLE_BRAND_KIT)
    monkeypatch.setenv("ONBRAND_INDEX", "kitewell")
    monkeypatch.setenv("ONBRAND_ADAPTER", "kitewell@v0002")
    monkeypatch.setenv("ONBRAND_BACKEND", "openai")
    monkeypatch.setenv("ONBRAND_BASE_URL", "http://127.0.0.1:8000/v1")
    s = Settings.from_env(index_name="other")
    assert (s.index_name, s.adapter, s.backend, s.base_url) == ("other", "kitewell@v0002", "openai",
                                                                 "http://127.0.0.1:8000/v1")
