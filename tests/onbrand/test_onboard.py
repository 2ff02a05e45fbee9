"""`onbrand onboard`: one command from a catalog and a kit to a gated adapter; a re-run skips what did not
change; a blocking problem stops it with a message; without prompts it makes held-out ones and says so."""

import json
import shutil
from pathlib import Path

import pytest

from core.config import Settings
from core.errors import UserError
from onbrand.onboard import STEPS, Onboarding
from tuning.train import TrainConfig

FIXTURES = Path(__file__).parents[1] / "fixtures"


def _onboarding(home: Path, lm_dir: Path, kit: Path, prompts: Path | None = None, lines=None) -> Onboarding:
    settings = Settings(home=home, model=str(lm_dir))
    return Onboarding(settings, "quokka", FIXTURES / "tiny_catalog.jsonl", kit, prompts,
                      say=(lines.append if lines is not None else lambda line: None),
                      train_config=TrainConfig(max_steps=2), max_new_tokens=8)


@pytest.fixture()
def kit(tmp_path):
    path = tmp_path / "kit.yaml"
    shutil.copy(FIXTURES / "tiny_brand_kit.yaml", path)
    return path


def test_onboard_runs_every_step_then_skips_them_all_on_a_rerun(tmp_path, tiny_lm_dir, kit, monkeypatch):
    monkeypatch.setenv("ONBRAND_DTYPE", "fp32")
    lines: list[str] = []
    first = _onboarding(tmp_path / "home", tiny_lm_dir, kit, lines=lines).run()
    assert [s["step"] for s in first["steps"]] == list(STEPS)
    assert not any(s["skipped"] for s in first["steps"])
    assert first["adapter"] == "quokka@v0001" and first["prompts"] == "generated"
    assert isinstance(first["gate_passed"], bool) and Path(first["report"]).is_file()
    report = Path(first["report"]).read_text()
    assert "generated from the adapter's dataset eval split" in report and "Held out from the adapter's training" in report
    card = json.loads(Path(first["report"]).with_suffix(".json").read_text())
    assert card["prompts_source"] == "generated" and card["held_out"]["held_out"] is True, card["held_out"]
    assert any(line.startswith("[7/7] eval: gate") for line in lines)

    again = _onboarding(tmp_path / "home", tiny_lm_dir, kit).run()
    assert all(s["skipped"] for s in again["steps"]), again["steps"]
    assert again["adapter"] == "quokka@v0001"  # nothing retrained

    # a prompts file of its own: the held-out prompts and the evaluation run again, nothing before them
    prompts = tmp_path / "prompts.jsonl"
    generated = (tmp_path / "home" / "onboard" / "quokka" / "eval_prompts.jsonl").read_text().splitlines()
    prompts.write_text("\n".join(generated[:-1]) + "\n")
    third = _onboarding(tmp_path / "home", tiny_lm_dir, kit, prompts).run()
    skipped = {s["step"]: s["skipped"] for s in third["steps"]}
    assert skipped == {"ingest": True, "lint": True, "index": True, "dataset": True, "prompts": False,
                       "train": True, "eval": False}
    assert third["prompts"] == "file"


def test_a_lint_error_stops_with_what_to_fix_and_keeps_the_steps_before_it(tmp_path, tiny_lm_dir, kit,
                                                                              monkeypatch):
    monkeypatch.setenv("ONBRAND_DTYPE", "fp32")
    home = tmp_path / "home"
    text = kit.read_text()
    kit.write_text(text.replace("deprecated_aliases:", "deprecated_aliases:\n  Ghost: Quokka Phantom Tent", 1))
    with pytest.raises(UserError, match="lint found .* error"):
        _onboarding(home, tiny_lm_dir, kit).run()
    state = json.loads((home / "onboard" / "quokka" / "state.json").read_text())
    assert list(state) == ["ingest"]  # the step before the problem is kept, nothing after it ran
    assert not (home / "adapters" / "quokka").exists()
