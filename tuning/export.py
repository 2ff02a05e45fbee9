"""Export a registered adapter version as a plain PEFT folder, loadable as is by peft, vLLM, LoRAX and
llama.cpp's LoRA converter:

    onbrand adapters export fernhollow@v0008 exports/fernhollow-v0008

    exports/fernhollow-v0008/
        adapter_model.safetensors   the registry's weights, byte for byte (sha256 checked after the copy)
        adapter_config.json         base_model_name_or_path = the base's hub id, never a path of this machine
        README.md                   model card: base, data hashes, hyperparameters, the scorecard's figures

The registry copy is verified against its manifest first (sizes, sha256, no pickles), and the folder is
staged beside its destination, fsynced and renamed into place (core/atomic.py): a reader sees a whole
export or none.
"""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from core import atomic
from core.errors import UserError
from core.model import GGUF_FILE
from core.refs import split_key
from tuning.loading import check_files, portable_base_id
from tuning.registry import AdapterRef, Registry, WEIGHTS

CONFIG, CARD = "adapter_config.json", "README.md"
_ABSOLUTE = re.compile(r"^(/|~|[A-Za-z]:[\\/]|\\\\)")  # POSIX, home, Windows drive, UNC


@dataclass(frozen=True)
class Exported:
    adapter: str  # "name@version"
    path: Path
    base_model: str  # what adapter_config.json names as the base
    trained_on_gguf: bool  # trained on the bundled GGUF dequantized, not the hub weights

    def to_json(self) -> dict:
        return {"adapter": self.adapter, "path": str(self.path), "base_model_name_or_path": self.base_model,
                "trained_on_gguf": self.trained_on_gguf, "files": [WEIGHTS, CONFIG, CARD]}


def absolute_paths(obj, where: str = "") -> list[str]:
    """The fields of a JSON document (dotted, "[i]" for list items) whose string value is an absolute path
    or a home-relative one ("~/…"): what no artifact meant for another machine may hold."""
    if isinstance(obj, dict):
        return [f for k, v in obj.items() for f in absolute_paths(v, f"{where}.{k}" if where else str(k))]
    if isinstance(obj, list):
        return [f for i, v in enumerate(obj) for f in absolute_paths(v, f"{where}[{i}]")]
    return [where] if isinstance(obj, str) and _ABSOLUTE.match(obj) else []


def export_adapter(registry: Registry, spec: str, dest: Path) -> Exported:
    """Write adapter `spec` ("name@version", or "name" for its promoted version) to the folder `dest`, which
    must not exist yet or be empty."""
    ref = registry.get(*split_key(spec))
    key = ref.key
    registry.verify(ref)  # sizes and sha256 as recorded
    check_files(ref.path, f"adapter {key}", ref.manifest)  # and no pickle-format file beside them
    dest = Path(dest)
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise UserError(f"{dest} exists and is not an empty folder; export into a new folder")
    trained_on = (ref.manifest.get("base") or {}).get("model_id")
    if not trained_on:
        raise UserError(f"adapter {key}: its manifest names no base (base.model_id)")
    base_id = portable_base_id(str(trained_on))
    config = json.loads((ref.path / CONFIG).read_text(encoding="utf-8"))
    config["base_model_name_or_path"] = base_id  # v0007/v0008 recorded the training machine's model folder
    left = absolute_paths(config)
    if left:
        raise UserError(f"adapter {key}: {CONFIG} field {left[0]} holds a path of this machine "
                        f"({config_value(config, left[0])!r}); an exported adapter must not")
    card = model_card(ref, base_id)
    if dest.is_dir():
        dest.rmdir()  # an empty folder: the staged export takes its place
    with atomic.staging_dir(dest) as tmp:
        shutil.copyfile(ref.path / WEIGHTS, tmp / WEIGHTS)
        want = ref.manifest["files"][WEIGHTS]["sha256"]
        if atomic.sha256_file(tmp / WEIGHTS) != want:
            raise UserError(f"adapter {key}: the copy of {WEIGHTS} does not match its manifest's sha256")
        (tmp / CONFIG).write_text(json.dumps(config, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        (tmp / CARD).write_text(card, encoding="utf-8")
    return Exported(key, dest, base_id, trained_on == "default")


def config_value(obj, dotted: str):
    for part in dotted.split("."):
        obj = obj.get(part) if isinstance(obj, dict) else None
    return obj


def _shown(path) -> str:
    """A recorded path as the card shows it: relative paths as they are, an absolute one by its name only."""
    return Path(path).name if isinstance(path, str) and _ABSOLUTE.match(path) else str(path)


def _pct(value) -> str:
    return "—" if value is None else f"{100 * value:.1f}%"


def model_card(ref: AdapterRef, base_id: str) -> str:
    """README.md for an exported adapter, from its manifest alone (no path of this machine)."""
    m = ref.manifest
    key = ref.key
    base = m.get("base") or {}
    hp = m.get("hyperparameters") or {}
    training = m.get("training") or {}
    dataset = m.get("dataset") or {}
    evaluation = m.get("evaluation") or {}
    gguf = base.get("model_id") == "default"
    lines = [
        "---", f"base_model: {base_id}", "library_name: peft", "tags: [lora, onbrand]", "---", "",
        f"# {key}: a LoRA adapter for {base_id}", "",
        f"Exported by `onbrand adapters export` from adapter version {key} (created {m.get('created', '?')}, "
        f"parent {m.get('parent') or 'none'}). It teaches brand behaviour (approved product names, disclaimers, "
        "formats) to a model that answers from retrieved catalog context; it writes catalog values as field "
        "references such as `[[price]]` or `[[stock]]`, which onbrand fills from the retrieved record "
        "(`rag/fields.py`). Served elsewhere, it expects onbrand's prompts (`rag/prompting.py`), and its "
        "references still need filling: point onbrand at the server with `--backend openai --base-url URL` "
        "so retrieval, prompts and fills stay onbrand's.", "",
        "## Base model", "",
        f"- `{base_id}` (hidden size {base.get('hidden_size')}, {base.get('num_layers')} layers, vocabulary "
        f"{base.get('vocab_size')}, chat template sha256 `{base.get('chat_template_sha256')}`)",
    ]
    if gguf:
        lines += [
            f"- **Trained on the dequantized GGUF, not the hub weights.** The base was onbrand's bundled "
            f"`{GGUF_FILE}` (sha256 `{base.get('weights_sha256')}`), dequantized and run in "
            f"{training.get('base_dtype', 'bf16')}. The LoRA delta was fitted to those 4-bit-rounded weights: "
            f"on the hub's bf16 weights (`{base_id}`) it behaves close to, but not the same as, onbrand's own "
            "answers, and the scorecard below does not transfer as is. To reproduce onbrand's answers, serve "
            "the base `onbrand prepare` converts (`<onbrand home>/models/gguf-<sha>/`, with "
            f"`--served-model-name {base_id}`); on the hub weights, run the scorecard against the server first "
            "(`onbrand eval --backend openai --base-url URL`).",
        ]
    else:
        lines += [f"- weights sha256 `{base.get('weights_sha256') or 'not recorded (a hub id)'}`"]
    lines += [
        "", "## Data", "",
        "| what | sha256 |", "| --- | --- |",
        f"| training dataset (`{_shown(dataset.get('path', '?'))}`: {dataset.get('train', '?')} train, "
        f"{dataset.get('eval', '?')} held-out examples) | `{dataset.get('sha256', '?')}` |",
        f"| brand kit | `{m.get('brand_kit_sha256', '?')}` |",
        f"| catalog (the scorecard's) | `{evaluation.get('catalog_sha256') or 'not evaluated'}` |",
        f"| adapter_model.safetensors | `{ref.weights_sha256 or '?'}` |",
        "", "## Training", "",
        f"LoRA rank {hp.get('lora_rank')}, alpha {hp.get('lora_alpha')}, dropout {hp.get('lora_dropout')}, on "
        f"{', '.join(hp.get('target_modules') or [])}; learning rate {hp.get('learning_rate')}, batch "
        f"{hp.get('batch_size')}, {training.get('steps', '?')} steps ({hp.get('epochs')} epochs) in "
        f"{training.get('seconds', '?')} s on {training.get('device', '?')}"
        f"{' (4-bit NF4 base)' if training.get('quantized_4bit') else ''}.",
    ]
    lines += ["", "## Evaluation", ""] + _evaluation_lines(evaluation)
    lines += [
        "", "## Loading it", "",
        "```python",
        "from peft import PeftModel",
        "from transformers import AutoModelForCausalLM, AutoTokenizer",
        f'base = AutoModelForCausalLM.from_pretrained("{base_id}")',
        'model = PeftModel.from_pretrained(base, "path/to/this/folder")',
        "```", "",
        "```bash",
        f"vllm serve {base_id} --enable-lora --max-lora-rank {max(16, int(hp.get('lora_rank') or 16))} \\",
        f"    --lora-modules {key}=path/to/this/folder",
        "```", "",
        f"Requests then name the adapter as `model: \"{key}\"` and the bare base as `model: \"{base_id}\"`.", "",
    ]
    return "\n".join(lines)


def _evaluation_lines(evaluation: dict) -> list[str]:
    summary = evaluation.get("summary") or {}
    if not summary:
        return ["Not evaluated: `onbrand eval --adapter NAME@VERSION` writes the scorecard and records it here."]
    from evaluation.scorecard import BY_NAME

    metrics = list(dict.fromkeys(k for row in summary.values() for k in row))
    prompts = evaluation.get("prompts") or {}
    card = evaluation.get("scorecard") or {}
    gate = evaluation.get("gate") or {}
    failed = [c.get("check", "?") for c in gate.get("checks") or [] if not c.get("passed")]
    out = [f"{prompts.get('count', '?')} held-out prompts (`{_shown(prompts.get('path', '?'))}`, sha256 "
           f"`{prompts.get('sha256', '?')}`), index version {evaluation.get('index_version', '?')}; scorecard "
           f"`{_shown(card.get('path', 'not bound'))}` (sha256 `{card.get('sha256', '?')}`). Share of answers per "
           "variant (definitions in onbrand's `evaluation/metrics.py`):", "",
           "| variant | " + " | ".join(metrics) + " |", "| --- |" + " --- |" * len(metrics)]
    for variant, row in summary.items():
        label = BY_NAME[variant].label if variant in BY_NAME else variant
        out.append(f"| {label} | " + " | ".join(_pct(row.get(k)) for k in metrics) + " |")
    verdict = "passed" if gate.get("passed") else "did not pass"
    out += ["", f"Ship gate: {verdict}" + (f" (failed: {'; '.join(failed)})" if failed else "") + "."]
    return out
