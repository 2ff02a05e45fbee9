"""The CLI bad-input probe of issue 17, as tests: each input below once gave a traceback, a silent default or
a wrong answer; now each is one `error:` line (exit 2), before any model or embedder loads.

    .venv/bin/python -m pytest tests/onbrand/test_probe.py
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core import config
from onbrand.cli import main

FIXTURES = Path(__file__).parents[1] / "fixtures"
TINY_CATALOG = FIXTURES / "tiny_catalog.jsonl"


def one_error(capsys, argv: list[str]) -> str:
    """Run the CLI in-process; assert exit 2 and exactly one stderr line, which is returned."""
    capsys.readouterr()
    code = main(argv)
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2, err
    assert len(err) == 1 and err[0].startswith("error: "), err
    return err[0]


@pytest.fixture()
def no_models(monkeypatch):
    """Loading the embedder or the language model fails the test: the checks must come first."""
    def refuse(*a, **k):
        raise AssertionError("a model was loaded before the input was checked")

    monkeypatch.setattr("rag.embedding.Embedder.load", refuse)
    monkeypatch.setattr("onbrand.assistant.Assistant.load", refuse)


# --- 6. tracebacks for user errors ---------------------------------------------------------------------

@pytest.mark.parametrize("command", [["ingest"], ["index", "build", "--catalog"], ["refresh"]])
def test_catalog_path_that_is_a_directory(tmp_path, capsys, monkeypatch, command):
    class Stub:  # refresh loads the embedder before it reads the export; it is never used here
        info = None

    monkeypatch.setattr("rag.embedding.Embedder.load", lambda *a, **k: Stub())
    folder = tmp_path / "exports"
    folder.mkdir()
    line = one_error(capsys, ["--home", str(tmp_path / "home"), *command, str(folder)])
    assert line == f"error: {folder}: cannot read file: it is a folder, not a catalog file"


@pytest.mark.parametrize("qty", ["inf", "1e400", "-inf"])
def test_shopify_quantity_overflow(tmp_path, capsys, qty):
    path = tmp_path / "products_export.csv"
    path.write_text(f"Handle,Title,Type,Variant Price,Variant Inventory Qty\nh,T,Boots,10,{qty}\n")
    line = one_error(capsys, ["ingest", str(path)])
    assert line.startswith(f"error: {path}:2: field 'stock' value '{qty}': ")


def test_negative_threads(capsys):
    assert one_error(capsys, ["--threads", "-1", "ingest", str(TINY_CATALOG)]) == (
        "error: --threads must be at least 1, got -1")


def test_onbrand_home_pointing_at_a_file(tmp_path, capsys, monkeypatch):
    file = tmp_path / "home.txt"
    file.write_text("not a folder")
    monkeypatch.setenv("ONBRAND_HOME", str(file))
    line = one_error(capsys, ["index", "versions"])
    assert line.startswith(f"error: ONBRAND_HOME={file} is not a folder")
    monkeypatch.delenv("ONBRAND_HOME")
    assert one_error(capsys, ["--home", str(file), "index", "versions"]).startswith(
        f"error: --home {file} is not a folder")


@pytest.mark.parametrize("name", ["x" * 300, "../escape", "/abs/dir", "a/b", "..", ".hidden"])
def test_index_names_refused_before_anything_is_written(tmp_path, capsys, no_models, name):
    home = tmp_path / "home"
    for command in (["index", "versions"], ["index", "build", "--catalog", str(TINY_CATALOG)],
                    ["retrieve", "tent"], ["index", "rollback"]):
        line = one_error(capsys, ["--home", str(home), *command, "--index-name", name])
        assert line.startswith("error: index_name") and "letters, digits" in line
    assert not list(tmp_path.rglob("*.faiss")) and not (tmp_path / "escape").exists()


def test_settings_validate_the_index_name(tmp_path):
    """The app builds Settings from ONBRAND_INDEX: the same rule holds there."""
    with pytest.raises(ValueError, match="index_name '../x'"):
        config.Settings(home=tmp_path, index_name="../x")
    assert config.Settings(home=tmp_path, index_name="coffee-gear").index_name == "coffee-gear"


# --- 7. smaller ones -----------------------------------------------------------------------------------

@pytest.mark.parametrize("tokens", ["0", "-5", "1025"])
def test_max_new_tokens_out_of_range(capsys, no_models, tokens):
    assert one_error(capsys, ["ask", "how much is the dome?", "--max-new-tokens", tokens]) == (
        f"error: --max-new-tokens must be in 1..1024, got {tokens}")


@pytest.mark.parametrize("command", [["retrieve", "tent"], ["ask", "tent"], ["eval-retrieval"]])
@pytest.mark.parametrize("k", ["-1", "0"])
def test_k_below_one(capsys, no_models, command, k):
    assert one_error(capsys, [*command, "-k", k]) == f"error: -k must be at least 1, got {k}"


@pytest.mark.parametrize("command", [["ask"], ["retrieve"]])
def test_question_limit_checked_before_the_model_loads(capsys, no_models, command):
    assert one_error(capsys, [*command, "x" * 1001]) == "error: the question is 1001 characters; the limit is 1000"
    assert one_error(capsys, [*command, "   "]) == "error: the question is empty"


def test_duplicate_eval_id_reported_when_the_first_row_has_another_error(tmp_path):
    """evaluation/metrics.py load_cases: a row with a bad field was skipped before its id was remembered."""
    from evaluation.metrics import CaseError, load_cases

    good = {"id": "a", "question": "q?", "kind": "price"}
    path = tmp_path / "p.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in [{**good, "format": "yaml"}, good]) + "\n")
    with pytest.raises(CaseError) as e:
        load_cases(path)
    assert [(p.line, p.field, p.rule) for p in e.value.problems] == [
        (1, "format", "must be one of text, table, json"), (2, "id", "duplicate id (first seen at line 1)")]


def test_unterminated_quote_and_no_empty_field_slot(tmp_path, capsys):
    path = tmp_path / "c.csv"
    path.write_text('id,name,collection,category,price\nQK-1,"Dome,Shelter,Tents,10\nQK-2,Dome,Shelter,Tents,10\n')
    line = one_error(capsys, ["ingest", str(path)])
    assert line.startswith(f"error: {path}:2: malformed CSV in the record that starts on this line") and "::" not in line
