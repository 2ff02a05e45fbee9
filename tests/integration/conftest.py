"""Integration tier: the real sample index and the real default model, in a throw-away home."""

import pytest


@pytest.fixture(scope="session")
def sample_home(tmp_path_factory):
    """A home with the sample index built and the default model converted, shared by the tier."""
    from onbrand.cli import main

    home = tmp_path_factory.mktemp("onbrand-home")
    assert main(["--home", str(home), "prepare"]) == 0
    return home


@pytest.fixture(scope="session")
def sample_assistant(sample_home):
    from core.config import Settings
    from onbrand.assistant import Assistant

    return Assistant.load(Settings(home=sample_home))
