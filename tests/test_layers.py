"""The layering contract (pyproject.toml [tool.importlinter], core/__init__.py): each package imports only the
layers below it, no modules of one package import each other in a cycle, and no contract lists an exception."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CONFIG = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))


def test_every_package_is_in_a_layer_and_no_contract_lists_an_exception():
    linter = CONFIG["tool"]["importlinter"]
    packages = {p.rstrip("*") for p in CONFIG["tool"]["setuptools"]["packages"]["find"]["include"]}
    assert set(linter["root_packages"]) == packages
    layers = next(c for c in linter["contracts"] if c["type"] == "layers")
    assert set(layers["layers"]) == packages
    acyclic = next(c for c in linter["contracts"] if c["type"] == "acyclic_siblings")
    assert set(acyclic["ancestors"]) == packages
    for contract in linter["contracts"]:
        assert not contract.get("ignore_imports"), contract["name"]
        assert not contract.get("exhaustive_ignores"), contract["name"]


def test_imports_keep_the_layers():
    """import-linter over the repository's own code: a lower layer importing a higher one, or a cycle between
    modules of one package, fails here with the offending import and its line."""
    run = subprocess.run(
        [sys.executable, "-c", "import sys; from importlinter.cli import lint_imports; "
         "sys.exit(lint_imports(config_filename='pyproject.toml', no_cache=True, no_logo=True))"],
        cwd=REPO, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert "0 broken" in run.stdout
