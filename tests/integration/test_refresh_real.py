"""Proof of purpose: a new price and stock status reach the answer through a catalog refresh, with the
same running assistant and the same shipped adapter; nothing is trained."""

import json
import shutil

import pytest

pytestmark = pytest.mark.integration

PRODUCT = "FH-CNP-009"  # the Canopy Basecamp 4 Tent: $389.00, in stock in the sample catalog
QUESTION = "how much is the Canopy Basecamp 4 Tent and is it in stock?"


def test_refreshed_price_and_stock_reach_the_answer_without_retraining(sample_home, tmp_path, monkeypatch):
    from core.config import Settings
    from corpus import SAMPLE_CATALOG
    from onbrand.assistant import Assistant
    from onbrand.cli import main

    def no_training(*a, **k):
        raise AssertionError("a catalog refresh must not train anything")

    monkeypatch.setattr("tuning.train.run_training", no_training)
    # an own home, so the shared sample index of the other integration tests stays as it is
    home = tmp_path / "home"
    home.mkdir()
    (home / "models").symlink_to(sample_home / "models", target_is_directory=True)
    shutil.copytree(sample_home / "indexes", home / "indexes")

    assistant = Assistant.load(Settings(home=home))
    adapter, version = assistant.default_adapter, assistant.index.version
    assert adapter.startswith("fernhollow@")
    adapters_before = assistant.registry.list()
    before = assistant.answer(QUESTION, max_new_tokens=60)
    assert before.sources[0].product_id == PRODUCT
    assert "$389.00" in before.text and "in stock" in before.text and "out of stock" not in before.text

    rows = [json.loads(line) for line in SAMPLE_CATALOG.read_text(encoding="utf-8").splitlines()]
    for row in rows:
        if row["id"] == PRODUCT:
            assert (row["price"], row["sale_price"], row["stock"]) == (389.0, None, "in_stock")
            row["price"], row["stock"] = 359.0, "out_of_stock"
    export = tmp_path / "catalog.jsonl"
    export.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    assert main(["--home", str(home), "refresh", str(export)]) == 0

    after = assistant.answer(QUESTION, max_new_tokens=60)  # the same object: no restart
    m = assistant.index.manifest
    assert assistant.index.version != version and m["parent"] == version
    assert (m["refresh"]["changed"], m["refresh"]["unchanged"], m["refresh"]["embedded_chunks"]) == (1, 164, 1)
    assert after.sources[0].product_id == PRODUCT
    print(f"before ({version}): {before.text!r}\nafter ({assistant.index.version}): {after.text!r}")  # -s shows
    assert "$359.00" in after.text and "out of stock" in after.text, after.text
    assert "$389.00" not in after.text
    assert after.adapter == before.adapter == adapter  # the same adapter answered
    assert assistant.registry.list() == adapters_before  # no adapter version was added or promoted
