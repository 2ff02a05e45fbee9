import json
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
