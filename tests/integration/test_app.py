"""The Streamlit app, headless through AppTest, on the real sample index and default model."""

import re

import pytest
from streamlit.testing.v1 import AppTest

pytestmark = pytest.mark.integration


def _text(md: str) -> str:
    """Model text is shown as escaped Markdown; this is what the reader sees."""
    return re.sub(r"\\(.)", r"\1", md)


def test_app_answers_with_sources_and_shows_the_index(sample_home, monkeypatch):
    monkeypatch.setenv("ONBRAND_HOME", str(sample_home))
    at = AppTest.from_file("../../app.py", default_timeout=300)
    at.run()
    assert not at.exception
    sidebar = " ".join(t.value for t in at.sidebar.text)
    assert "165 products" in sidebar and "built" in sidebar
    at.chat_input[0].set_value("how much is the TrailForm 28 Daypack?").run()
    assert not at.exception
    assistant_msgs = [m for m in at.chat_message if m.name == "assistant"]
    answer = _text(assistant_msgs[-1].markdown[0].value)
    assert "$119.95" in answer  # the catalog price (the shipped adapter is on by default)
    sources = at.dataframe[-1].value
    assert sources.iloc[0]["id"] == "FH-TRL-001"
    assert sources.iloc[0]["product"] == "TrailForm 28 Daypack"


def test_app_refuses_an_overlong_question_politely(sample_home, monkeypatch):
    monkeypatch.setenv("ONBRAND_HOME", str(sample_home))
    at = AppTest.from_file("../../app.py", default_timeout=300)
    at.run()
    at.chat_input[0].set_value("x" * 1500).run()
    assert not at.exception
    assert "limit is 1000" in at.error[0].value


def test_app_serves_the_promoted_adapter_and_can_turn_it_off(sample_home, monkeypatch):
    monkeypatch.setenv("ONBRAND_HOME", str(sample_home))
    at = AppTest.from_file("../../app.py", default_timeout=300)
    at.run()
    assert at.sidebar.selectbox(key="adapter").value.startswith("fernhollow@")
    at.chat_input[0].set_value("is the trekker 28 in stock?").run()
    captions = " ".join(_text(c.value) for c in at.caption)
    assert "Answered by fernhollow@" in captions
    at.sidebar.toggle(key="adapter_on").set_value(False).run()
    at.chat_input[0].set_value("is the trekker 28 in stock?").run()
    assert not at.exception
    assert "Answered by the base model (no adapter)" in " ".join(_text(c.value) for c in at.caption)


def test_app_side_by_side_on_the_real_model_and_shipped_adapter(sample_home, sample_assistant, monkeypatch):
    monkeypatch.setenv("ONBRAND_HOME", str(sample_home))
    at = AppTest.from_file("../../app.py", default_timeout=300)
    at.run()
    at.sidebar.toggle(key="side_by_side").set_value(True).run()
    at.chat_input[0].set_value("how much is the TrailForm 28 Daypack?").run()
    assert not at.exception
    turn = at.session_state["history"][-1]
    assert turn["mode"] == "pair" and turn["adapter"].startswith("fernhollow@")
    # the same pass, outside the app, gives the same two answers (greedy, same retrieved context)
    pair = sample_assistant.side_by_side("how much is the TrailForm 28 Daypack?")
    list(pair.stream)
    assert [turn["base"], turn["adapter_text"]] == pair.texts
    assert "$119.95" in turn["adapter_text"]
    md = [m.value for m in at.markdown]
    assert "**Base model**" in md and any(m.startswith("**Adapter fernhollow") for m in md)
    assert set(turn["badges"]) == {"base", "adapter_text"}
