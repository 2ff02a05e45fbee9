import json
import shutil
from datetime import datetime

import pytest
import torch
from safetensors.torch import save_file

from core import atomic
from evaluation.gate import bind_scorecard, gate
from tuning.registry import REPO_ROOT, AdapterRef, Registry, RegistryError


def adapter_writer(value: float = 0.0, files=Registry.FILES):
    """A write_files callback that writes a tiny fake adapter (only the listed files)."""

    def write(folder):
        if "adapter_model.safetensors" in files:
            save_file({"a": torch.full((2,), value)}, str(folder / "adapter_model.safetensors"))
        if "adapter_config.json" in files:
            (folder / "adapter_config.json").write_text(json.dumps({"r": 8, "lora_alpha": 16}))

    return write


def publish(reg: Registry, name: str, value: float = 0.0, **manifest) -> AdapterRef:
    return reg.publish(name, adapter_writer(value), {"base": "tiny-lm", **manifest})


def hidden(folder):
    return [p.name for p in folder.iterdir() if p.name.startswith(".") and p.name != ".lock"]


@pytest.fixture()
def reg(tmp_path):
    return Registry(tmp_path / "adapters")


def _summary(**tuned):
    """A hand-made Scorecard.summary() whose RAG + adapter clears every gate check (tuned overrides it)."""
    simpler = dict(approved_name_rate=0.6, deprecated_rate=0.3, disclaimer_compliance=0.2, grounded=0.8,
                   format_ok=0.5, not_in_catalog_ok=0.7, answered=0.6, contradicted=0.1, clean=0.9)
    best = dict(approved_name_rate=0.98, deprecated_rate=0.0, disclaimer_compliance=0.95, grounded=0.8,
                format_ok=0.9, not_in_catalog_ok=0.9, answered=0.95, contradicted=0.0, clean=1.0) | tuned
    rows = {v: simpler for v in ("base", "prompt", "rag", "rag_prompt")} | {"adapter": simpler, "rag_adapter": best}
    return {v: {m: {"value": x, "lo": x, "hi": x, "n": 10} for m, x in row.items()} for v, row in rows.items()}


def evaluate(reg, name, version, summary=None, folder=None):
    """What `onbrand eval` records: scorecard.json under the home's reports/, the verdict and its binding in
    the manifest. Returns the scorecard's path."""
    summary = _summary() if summary is None else summary
    verdict = gate(summary)
    path = folder or reg.root.parent / "reports" / f"{name}-{version}" / "scorecard.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"adapter": f"{name}@{version}", "summary": summary, "gate": verdict}))
    reg.update_manifest(name, version, {"evaluation": {
        "gate": {"passed": verdict["passed"], "checks": verdict["checks"], "config": verdict["config"]},
        "scorecard": bind_scorecard(path, reg.report_roots)}})
    return path


def test_two_names_list_their_versions_side_by_side(reg):
    a1 = publish(reg, "quokka", notes="first")
    a2 = publish(reg, "quokka", evaluation={"gate": {"passed": True}})
    b1 = publish(reg, "quokka-de.v2", evaluation={"gate": {"passed": False}})
    assert (a1.version, a2.version, b1.version) == ("v0001", "v0002", "v0001")
    (reg.root / "quokka" / ".v0003.abc.tmp").mkdir()  # a staging folder of a publish in progress
    (reg.root / ".trash").mkdir()
    assert reg.names() == ["quokka", "quokka-de.v2"]
    assert reg.versions("quokka") == ["v0001", "v0002"]
    assert reg.versions("nobody") == []
    reg.promote("quokka", "v0002")
    reg.promote("quokka-de.v2", "v0001")
    rows = {(r["name"], r["version"]): r for r in reg.list()}
    assert list(rows) == [("quokka", "v0001"), ("quokka", "v0002"), ("quokka-de.v2", "v0001")]
    assert [r["promoted"] for r in rows.values()] == [False, True, True]
    assert rows["quokka", "v0001"]["notes"] == "first" and rows["quokka", "v0002"]["notes"] is None
    assert [r["gate_passed"] for r in rows.values()] == [None, True, False]
    assert rows["quokka", "v0002"]["created"] == a2.manifest["created"]


def test_versions_sort_numerically_and_publish_continues_after_the_highest(reg):
    for v in ("v9999", "v10000"):
        (reg.root / "big" / v).mkdir(parents=True)
    assert reg.versions("big") == ["v9999", "v10000"]
    assert publish(reg, "big").version == "v10001"


def test_publish_writes_a_self_describing_manifest(reg):
    caller = {"base": "tiny-lm", "dataset": {"sha256": "d" * 64}, "hyperparameters": {"r": 8}, "notes": "n"}
    ref = reg.publish("quokka", adapter_writer(), caller)
    assert caller == {"base": "tiny-lm", "dataset": {"sha256": "d" * 64}, "hyperparameters": {"r": 8}, "notes": "n"}
    m = json.loads((ref.path / "manifest.json").read_text())
    assert m == ref.manifest
    assert {k: m[k] for k in caller} == caller
    assert (m["name"], m["version"], m["parent"]) == ("quokka", "v0001", None)
    assert datetime.fromisoformat(m["created"]).utcoffset().total_seconds() == 0
    for f in Registry.FILES:
        assert m["files"][f] == {"sha256": atomic.sha256_file(ref.path / f), "bytes": (ref.path / f).stat().st_size}
    assert hidden(reg.root / "quokka") == []


def test_get_returns_the_promoted_version_and_names_what_is_known(reg):
    publish(reg, "quokka")
    publish(reg, "quokka")
    with pytest.raises(RegistryError, match="'quokka' has no promoted version; promote one of: v0001, v0002"):
        reg.get("quokka")
    reg.promote("quokka", "v0002")
    ref = reg.get("quokka")
    assert (ref.version, ref.path) == ("v0002", reg.root / "quokka" / "v0002")
    assert reg.get("quokka", "v0001").manifest["version"] == "v0001"
    assert reg.get("quokka", "1").version == "v0001"  # loose ids are normalised
    with pytest.raises(RegistryError, match="no version 'v0007'; known versions: v0001, v0002"):
        reg.get("quokka", "v0007")
    with pytest.raises(RegistryError, match="no adapter named 'wombat'.*known names: quokka"):
        reg.get("wombat")
    with pytest.raises(RegistryError, match="'latest' is not a version id"):
        reg.get("quokka", "latest")


def test_promote_and_rollback_walk_the_history(reg):
    for _ in range(3):
        publish(reg, "quokka")
    for v in ("v0001", "v0002", "v0003"):
        reg.promote("quokka", v)
    assert reg.rollback("quokka").version == "v0002" and reg.get("quokka").version == "v0002"
    assert reg.rollback("quokka").version == "v0001" and reg.get("quokka").version == "v0001"
    with pytest.raises(RegistryError, match="nothing to roll back to; v0001 is the first"):
        reg.rollback("quokka")
    state = json.loads((reg.root / "quokka" / "PROMOTED.json").read_text())
    assert state["version"] == "v0001"
    assert [(h["version"], h["action"]) for h in state["history"]] == [
        ("v0001", "promote"), ("v0002", "promote"), ("v0003", "promote"),
        ("v0002", "rollback"), ("v0001", "rollback")]
    assert state["history"][3]["reason"] == "rolled back from v0003"
    assert all(h["forced"] is False and datetime.fromisoformat(h["at"]) for h in state["history"])


def test_rollback_refuses_without_history_or_when_the_previous_version_was_removed(reg):
    for _ in range(3):
        publish(reg, "quokka")
    with pytest.raises(RegistryError, match="no promoted version to roll back from"):
        reg.rollback("quokka")
    reg.promote("quokka", "v0001")
    reg.promote("quokka", "v0003")
    reg.rm("quokka", "v0001")
    with pytest.raises(RegistryError, match="v0001, promoted before v0003, has been removed"):
        reg.rollback("quokka")
    assert reg.get("quokka").version == "v0003"


def test_promoting_the_promoted_version_changes_nothing(reg):
    publish(reg, "quokka")
    reg.promote("quokka", "v0001")
    reg.promote("quokka", "v0001")
    state = json.loads((reg.root / "quokka" / "PROMOTED.json").read_text())
    assert len(state["history"]) == 1


def test_parent_is_the_promoted_version_unless_given(reg):
    assert publish(reg, "quokka").manifest["parent"] is None
    assert publish(reg, "quokka").manifest["parent"] is None  # nothing promoted yet
    reg.promote("quokka", "v0001")
    assert publish(reg, "quokka").manifest["parent"] == "v0001"
    assert publish(reg, "quokka", parent="v0002").manifest["parent"] == "v0002"
    assert publish(reg, "quokka", parent=None).manifest["parent"] is None
    assert publish(reg, "other").manifest["parent"] is None  # parents are per name


def test_rm_refuses_the_promoted_version_and_removes_others(reg):
    publish(reg, "quokka")
    publish(reg, "quokka")
    reg.promote("quokka", "v0002")
    with pytest.raises(RegistryError, match="v0002 is the promoted version; promote another version or roll back"):
        reg.rm("quokka", "v0002")
    reg.rm("quokka", "v0001")
    assert reg.versions("quokka") == ["v0002"]
    assert not (reg.root / "quokka" / "v0001").exists() and hidden(reg.root / "quokka") == []
    with pytest.raises(RegistryError, match="no version 'v0001'; known versions: v0002"):
        reg.rm("quokka", "v0001")
    assert publish(reg, "quokka").version == "v0003"


@pytest.mark.parametrize("missing", Registry.FILES)
def test_publish_refuses_a_missing_file_and_leaves_nothing_behind(reg, missing):
    present = tuple(f for f in Registry.FILES if f != missing)
    with pytest.raises(RegistryError, match=f"quokka/v0001: write_files did not create {missing}"):
        reg.publish("quokka", adapter_writer(files=present), {})
    assert reg.versions("quokka") == [] and reg.names() == []
    assert list((reg.root / "quokka").iterdir()) == []  # no partial version, no staging folder


def test_publish_failure_in_write_files_leaves_nothing_behind(reg):
    def boom(folder):
        adapter_writer()(folder)
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        reg.publish("quokka", boom, {})
    assert list((reg.root / "quokka").iterdir()) == []


def test_concurrent_publish_of_the_same_number_retries_with_the_next(reg):
    calls = []

    def write(folder):
        calls.append(folder)
        if len(calls) == 1:  # another publisher takes v0001 while this one is staging it
            assert publish(reg, "quokka", notes="other").version == "v0001"
        adapter_writer(1.0)(folder)

    ref = reg.publish("quokka", write, {"notes": "mine"})
    assert ref.version == "v0002" and ref.manifest["version"] == "v0002" and len(calls) == 2
    assert reg.get("quokka", "v0001").manifest["notes"] == "other"
    assert reg.get("quokka", "v0002").manifest["notes"] == "mine"
    reg.verify(reg.get("quokka", "v0002"))
    assert hidden(reg.root / "quokka") == []


def test_verify_catches_a_tampered_or_missing_file(reg):
    ref = publish(reg, "quokka")
    reg.verify(ref)
    save_file({"a": torch.ones(2)}, str(ref.path / "adapter_model.safetensors"))  # same size, other bytes
    with pytest.raises(RegistryError, match="quokka/v0001: adapter_model.safetensors sha256 .* does not match"):
        reg.verify(ref)
    with pytest.raises(RegistryError, match="adapter_model.safetensors sha256"):
        reg.promote("quokka", "v0001")  # a tampered adapter never goes live
    assert reg.promoted("quokka") is None
    (ref.path / "adapter_config.json").unlink()
    ref2 = publish(reg, "quokka")
    (ref2.path / "adapter_config.json").unlink()
    with pytest.raises(RegistryError, match="quokka/v0002: adapter_config.json is missing"):
        reg.verify(ref2)


def test_require_gate_refuses_without_a_passing_gate_and_force_is_recorded(reg):
    publish(reg, "quokka")
    publish(reg, "quokka", evaluation={"gate": {"passed": False}})
    publish(reg, "quokka")
    evaluate(reg, "quokka", "v0003")
    with pytest.raises(RegistryError, match=r"quokka/v0001: evaluation.gate.passed is None, not True"):
        reg.promote("quokka", "v0001", require_gate=True)
    with pytest.raises(RegistryError, match=r"quokka/v0002: evaluation.gate.passed is False, not True"):
        reg.promote("quokka", "v0002", require_gate=True)
    with pytest.raises(RegistryError, match="a forced promotion needs a reason"):
        reg.promote("quokka", "v0002", require_gate=True, force=True)
    assert reg.promoted("quokka") is None
    assert reg.promote("quokka", "v0003", require_gate=True).version == "v0003"

    ref = reg.promote("quokka", "v0002", require_gate=True, force=True, reason="hotfix for launch")
    state = json.loads((reg.root / "quokka" / "PROMOTED.json").read_text())
    assert state["version"] == "v0002"
    assert state["history"][0]["forced"] is False
    last = state["history"][-1]
    assert (last["version"], last["action"], last["forced"], last["reason"]) == (
        "v0002", "promote", True, "hotfix for launch")
    on_disk = json.loads((ref.path / "manifest.json").read_text())
    assert last["gate"] == "evaluation.gate.passed is False, not True"  # what the forced promotion overrode
    assert on_disk["promotions"] == [{"at": last["at"], "forced": True, "reason": "hotfix for launch",
                                      "gate": last["gate"]}]
    assert ref.manifest == on_disk
    reg.verify(reg.get("quokka", "v0002"))  # rewriting the manifest does not touch the weights' hashes
    assert "promotions" not in reg.get("quokka", "v0003").manifest


def test_update_manifest_merges_shallowly_and_atomically(reg):
    publish(reg, "quokka", evaluation={"old": 1}, notes="keep")
    new = reg.update_manifest("quokka", "v0001", {"evaluation": {"gate": {"passed": True}}, "extra": [1]})
    assert new["evaluation"] == {"gate": {"passed": True}} and new["extra"] == [1] and new["notes"] == "keep"
    assert reg.get("quokka", "v0001").manifest == new
    assert hidden(reg.root / "quokka" / "v0001") == []
    reg.verify(reg.get("quokka", "v0001"))
    evaluate(reg, "quokka", "v0001")  # an update_manifest too: the weights' hashes still verify
    reg.promote("quokka", "v0001", require_gate=True)
    for field in ("files", "version"):
        with pytest.raises(RegistryError, match=f"manifest field '{field}' is set by publish"):
            reg.update_manifest("quokka", "v0001", {field: {}})
    with pytest.raises(RegistryError, match="not JSON-serializable"):
        reg.update_manifest("quokka", "v0001", {"when": object()})
    with pytest.raises(RegistryError, match="known versions: v0001"):
        reg.update_manifest("quokka", "v0009", {"notes": "x"})


def test_corrupt_or_missing_manifest_is_a_readable_error(reg):
    ref = publish(reg, "quokka")
    path = ref.path / "manifest.json"
    path.write_text("{not json")
    with pytest.raises(RegistryError, match=f"quokka/v0001: {path} is not valid JSON"):
        reg.get("quokka", "v0001")
    with pytest.raises(RegistryError, match="manifest.json is not valid JSON"):
        reg.list()
    path.write_text("[1, 2]")
    with pytest.raises(RegistryError, match="is not a JSON object"):
        reg.get("quokka", "v0001")
    path.unlink()
    with pytest.raises(RegistryError, match=f"quokka/v0001: {path} is missing"):
        reg.get("quokka", "v0001")
    reg.rm("quokka", "v0001")  # a broken version can still be removed
    assert reg.names() == []


def test_corrupt_promotion_record_is_a_readable_error(reg):
    publish(reg, "quokka")
    path = reg.root / "quokka" / "PROMOTED.json"
    path.write_text("{")
    with pytest.raises(RegistryError, match=f"quokka: {path} is not valid JSON"):
        reg.get("quokka")
    path.write_text('{"version": "v0001"}')
    with pytest.raises(RegistryError, match="is not a promotion record"):
        reg.promote("quokka", "v0001")


@pytest.mark.parametrize("bad", ["", ".hidden", "..", "a/b", "../up", "with space", "é", "x" * 65, "tab\t",
                                 "newline\n", None])
def test_bad_names_are_refused(reg, bad):
    with pytest.raises(RegistryError, match="is not allowed: use 1-64 letters"):
        reg.publish(bad, adapter_writer(), {})
    assert not reg.root.exists() or list(reg.root.iterdir()) == []


@pytest.mark.parametrize("good", ["quokka", "Quokka_DE-2.1", "x" * 64, "0"])
def test_good_names_are_accepted(reg, good):
    assert publish(reg, good).name == good and reg.names() == [good]


def test_manifest_must_be_a_json_dict(reg):
    with pytest.raises(RegistryError, match="manifest must be a dict"):
        reg.publish("quokka", adapter_writer(), [("base", "x")])
    with pytest.raises(RegistryError, match="manifest is not JSON-serializable"):
        reg.publish("quokka", adapter_writer(), {"lr": float("nan")})
    assert reg.names() == []


# --- a gated promotion re-checks the verdict against the scorecard it is bound to -----------------------

def test_the_recorded_scorecard_is_named_relative_to_the_home_never_absolutely(reg):
    publish(reg, "quokka")
    evaluate(reg, "quokka", "v0001")
    binding = reg.get("quokka", "v0001").manifest["evaluation"]["scorecard"]
    assert binding["path"] == "reports/quokka-v0001/scorecard.json" and binding["root"] == "home"
    assert reg.report_roots == {"home": reg.root.parent, "repo": REPO_ROOT}
    assert reg.promote("quokka", "v0001", require_gate=True).version == "v0001"
    state = json.loads((reg.root / "quokka" / "PROMOTED.json").read_text())
    assert state["history"][-1]["forced"] is False and "gate" not in state["history"][-1]


def test_promote_refuses_a_hand_edited_pass(reg):
    publish(reg, "quokka")
    path = evaluate(reg, "quokka", "v0001", _summary(contradicted=0.05))  # the gate failed and says so
    evaluation = reg.get("quokka", "v0001").manifest["evaluation"]
    assert evaluation["gate"]["passed"] is False
    reg.update_manifest("quokka", "v0001", {"evaluation": {**evaluation, "gate": {"passed": True, "checks": []}}})
    with pytest.raises(RegistryError, match=rf"quokka/v0001: scorecard {path} records the gate as passed=False "
                                            r"while the manifest says True; .*contradicted target ≤ 1%"):
        reg.promote("quokka", "v0001", require_gate=True)
    assert reg.promoted("quokka") is None


def test_promote_refuses_a_tampered_scorecard(reg):
    publish(reg, "quokka")
    path = evaluate(reg, "quokka", "v0001", _summary(contradicted=0.05))
    doc = json.loads(path.read_text())
    doc["summary"]["rag_adapter"]["contradicted"]["value"] = 0.0  # the figure edited to pass
    doc["gate"]["passed"] = True
    path.write_text(json.dumps(doc))
    reg.update_manifest("quokka", "v0001", {"evaluation": {
        **reg.get("quokka", "v0001").manifest["evaluation"], "gate": {"passed": True}}})
    with pytest.raises(RegistryError, match=rf"quokka/v0001: scorecard {path} has sha256 \w+…, the manifest "
                                            r"records \w+…; the file changed after the evaluation"):
        reg.promote("quokka", "v0001", require_gate=True)


def test_promote_refuses_a_missing_or_unbound_scorecard(reg):
    publish(reg, "quokka")
    path = evaluate(reg, "quokka", "v0001")
    path.unlink()
    with pytest.raises(RegistryError, match=rf"quokka/v0001: scorecard {path} is missing \(recorded as "
                                            r"reports/quokka-v0001/scorecard.json under the home root\)"):
        reg.promote("quokka", "v0001", require_gate=True)
    publish(reg, "quokka", evaluation={"gate": {"passed": True, "checks": []}})  # the manifest alone says so
    with pytest.raises(RegistryError, match="quokka/v0002: evaluation.scorecard .* is missing"):
        reg.promote("quokka", "v0002", require_gate=True)


def test_promote_refuses_the_scorecard_of_another_version(reg):
    publish(reg, "quokka")
    publish(reg, "quokka")
    evaluate(reg, "quokka", "v0001")
    borrowed = reg.get("quokka", "v0001").manifest["evaluation"]
    reg.update_manifest("quokka", "v0002", {"evaluation": borrowed})
    with pytest.raises(RegistryError, match="is the evaluation of 'quokka@v0001', not of quokka@v0002"):
        reg.promote("quokka", "v0002", require_gate=True)


def test_a_forced_promotion_past_a_refused_gate_records_why(reg):
    publish(reg, "quokka")
    path = evaluate(reg, "quokka", "v0001")
    path.write_text(path.read_text() + " ")
    ref = reg.promote("quokka", "v0001", require_gate=True, force=True, reason="scorecard reformatted")
    entry = ref.manifest["promotions"][-1]
    assert entry["forced"] is True and entry["reason"] == "scorecard reformatted"
    assert "has sha256" in entry["gate"] and str(path) in entry["gate"]
    assert reg.promoted("quokka") == "v0001"


def test_a_shipped_version_binds_its_scorecard_under_the_repository(tmp_path):
    """Seeding imports a shipped version into a fresh home: its scorecard is found under the repository
    root, so it is promoted through the gate; a shipped version without a binding is refused (and the
    seeding then forces it with a recorded reason)."""
    repo, shipped_reg = tmp_path / "repo", Registry(tmp_path / "build" / "adapters")
    publish(shipped_reg, "quokka")
    scorecard = repo / "reports" / "quokka-v0001" / "scorecard.json"
    bound = Registry(shipped_reg.root, report_roots={"home": tmp_path / "elsewhere", "repo": repo})
    evaluate(bound, "quokka", "v0001", folder=scorecard)
    manifest = bound.get("quokka", "v0001").manifest
    assert manifest["evaluation"]["scorecard"]["root"] == "repo"

    fresh = Registry(tmp_path / "home" / "adapters", report_roots={"home": tmp_path / "home", "repo": repo})
    fresh.import_version(shipped_reg.get("quokka", "v0001").path)
    assert fresh.promote("quokka", "v0001", require_gate=True).version == "v0001"
    scorecard.unlink()  # a clone without the report
    other = Registry(tmp_path / "home2" / "adapters", report_roots={"home": tmp_path / "home2", "repo": repo})
    other.import_version(shipped_reg.get("quokka", "v0001").path)
    with pytest.raises(RegistryError, match="scorecard .* is missing"):
        other.promote("quokka", "v0001", require_gate=True)


def test_the_shipped_adapter_is_seeded_whether_or_not_its_manifest_binds_its_scorecard(tmp_path):
    from onbrand.assistant import seed_shipped_adapters

    repo = tmp_path / "repo"
    build = Registry(tmp_path / "build" / "adapters", report_roots={"repo": repo})
    for _ in range(2):
        publish(build, "quokka")
    evaluate(build, "quokka", "v0002", folder=repo / "reports" / "quokka-v0002" / "scorecard.json")
    shipped = tmp_path / "shipped"
    for v in ("v0001", "v0002"):
        (shipped / "quokka").mkdir(parents=True, exist_ok=True)
        shutil.copytree(build.get("quokka", v).path, shipped / "quokka" / v)

    bound = Registry(tmp_path / "home" / "adapters", report_roots={"home": tmp_path / "home", "repo": repo})
    assert seed_shipped_adapters(bound, shipped) == ["quokka@v0001", "quokka@v0002"]
    history = json.loads((bound.root / "quokka" / "PROMOTED.json").read_text())["history"]
    assert [(h["version"], h["forced"]) for h in history] == [("v0002", False)]  # through the gate

    shutil.rmtree(shipped / "quokka" / "v0002")  # the newest shipped version carries no binding
    unbound = Registry(tmp_path / "home2" / "adapters", report_roots={"home": tmp_path / "home2", "repo": repo})
    assert seed_shipped_adapters(unbound, shipped) == ["quokka@v0001"]
    history = json.loads((unbound.root / "quokka" / "PROMOTED.json").read_text())["history"]
    assert [(h["version"], h["forced"]) for h in history] == [("v0001", True)]
    assert "shipped" in history[0]["reason"] and "evaluation.gate.passed is None" in history[0]["gate"]
