"""`onbrand train` refuses on lint errors unless overridden, and records the override in the manifest;
`onbrand adapters` lists, shows, promotes, rolls back and removes."""

import json
from pathlib import Path

from onbrand.cli import main
from tuning.dataset import Example, write_dataset

FIXTURES = Path(__file__).parents[1] / "fixtures"


def _dataset(tmp_path, answer):
    q = "how much is the dome 2?"
    msgs = ({"role": "user", "content": q}, {"role": "assistant", "content": answer})
    rows = [Example(f"e{i}", "train" if i < 3 else "eval", "price", "t", q, ("QK-TNT-01",), False, msgs)
            for i in range(4)]
    path = tmp_path / "ds.jsonl"
    write_dataset(rows, path)
    return path


def _train(tmp_path, tiny_lm_dir, dataset, *extra):
    return main(["--home", str(tmp_path / "home"), "train", "--dataset", str(dataset), "--catalog",
                 str(FIXTURES / "tiny_catalog.jsonl"), "--brand-kit", str(FIXTURES / "tiny_brand_kit.yaml"),
                 "--model", str(tiny_lm_dir), "--name", "quokka", "--max-steps", "2", *extra])


def test_lint_errors_block_training_unless_overridden_and_recorded(tmp_path, tiny_lm_dir, capsys, monkeypatch):
    monkeypatch.setenv("ONBRAND_DTYPE", "fp32")
    bad = _dataset(tmp_path, "The Sparky is a fine stove.")  # a deprecated alias in the target
    assert _train(tmp_path, tiny_lm_dir, bad) == 2
    err = capsys.readouterr().err
    assert "dataset.deprecated-alias" in err and "--override-lint" in err
    assert not (tmp_path / "home" / "adapters" / "quokka").exists()

    assert _train(tmp_path, tiny_lm_dir, bad, "--override-lint", "known legacy row, fixing next sprint") == 0
    out = json.loads(capsys.readouterr().out)
    manifest = json.loads((Path(out["path"]) / "manifest.json").read_text())
    assert manifest["lint_override"]["reason"] == "known legacy row, fixing next sprint"
    assert any("dataset.deprecated-alias" in e for e in manifest["lint_override"]["errors"])


def test_adapters_commands_round_trip(tmp_path, tiny_lm_dir, capsys, monkeypatch):
    monkeypatch.setenv("ONBRAND_DTYPE", "fp32")
    good = _dataset(tmp_path, "The Quokka Dome 2 Tent is $249.00.\n\nPrices can change; check the product page.")
    home = ["--home", str(tmp_path / "home")]
    assert _train(tmp_path, tiny_lm_dir, good) == 0
    assert main([*home, "adapters", "promote", "quokka", "v0001", "--force", "--reason", "t",
                 "--model", str(tiny_lm_dir)]) == 0  # serving's load checks run on the base it serves with
    assert _train(tmp_path, tiny_lm_dir, good) == 0  # its parent is the promoted v0001
    assert main([*home, "adapters", "promote", "quokka", "v0002", "--force", "--reason", "t",
                 "--model", str(tiny_lm_dir)]) == 0  # serving's load checks run on the base it serves with
    capsys.readouterr()
    assert main([*home, "adapters", "list"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(r["version"], r["promoted"]) for r in rows] == [("v0001", False), ("v0002", True)]
    assert main([*home, "adapters", "show", "quokka"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["version"] == "v0002" and shown["manifest"]["parent"] == "v0001"
    assert main([*home, "adapters", "rm", "quokka", "v0002"]) == 2  # the promoted one
    assert "promoted" in capsys.readouterr().err
    assert main([*home, "adapters", "rollback", "quokka"]) == 0
    assert json.loads(capsys.readouterr().out) == {"promoted": "quokka@v0001"}
    assert main([*home, "adapters", "rm", "quokka", "v0002"]) == 0


def test_the_eval_help_names_the_gate_defaults_promote_re_checks_with():
    from evaluation.gate import GateConfig
    from onbrand.cli import GATE_MARGIN, GATE_TOLERANCE, build_parser

    assert (GATE_MARGIN, GATE_TOLERANCE) == (GateConfig().margin, GateConfig().tolerance)
    args = build_parser().parse_args(["eval", "--adapter", "quokka"])
    assert args.margin is None and args.tolerance is None  # unset: GateConfig's own defaults apply
