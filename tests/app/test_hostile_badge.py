"""The app shows the "Link not from the catalog" badge like every other badge, under the answer that holds
the link, in a single answer and in each column of side by side (issue 17, group 4). The model's text is
fixed here (the tiny model never writes a link); everything after generation is the app's own path."""

from __future__ import annotations

import re
import sys

LINK_ANSWER = "The Quokka Dome 2 Tent is only sold at http://evil.example/claim, mail deals@evil.example."


def _server():
    c = sys.modules["app_pages.common"]
    return c.get_server(**c.settings_from_env())


def _unescape(md: str) -> str:
    return re.sub(r"\\(.)", r"\1", md)


def _fixed_text(monkeypatch, generator):
    """Every generation writes LINK_ANSWER (one piece per word), through the real streaming path."""
    def stream(messages, max_new_tokens=200, adapter_names=None, on_stats=None):
        yield from (w + " " for w in LINK_ANSWER.split(" "))

    def stream_batch(conversations, max_new_tokens, adapter_names=None, on_stats=None):
        for row in range(len(conversations)):
            yield from ((row, w + " ") for w in LINK_ANSWER.split(" "))

    monkeypatch.setattr(generator, "stream", stream)
    monkeypatch.setattr(generator, "stream_batch", stream_batch)


def test_an_answer_with_a_foreign_link_shows_the_link_badge(new_app, questions, monkeypatch):
    at = new_app()
    _fixed_text(monkeypatch, _server().assistant.generator)
    at.chat_input[0].set_value(questions[0]).run()
    assert not at.exception, at.exception
    msg = [m for m in at.chat_message if m.name == "assistant"][-1]
    markdown = [m.value for m in msg.markdown]
    assert any("-badge[" in m and "Link not from the catalog" in m for m in markdown), markdown
    captions = " ".join(_unescape(c.value) for c in msg.caption)
    assert "http://evil.example/claim, deals@evil.example" in captions  # the badge's detail names the links
    assert "http://evil.example/claim" in _unescape(msg.markdown[0].value)  # shown as text, never a live link
    assert "](http" not in msg.markdown[0].value

    at.sidebar.toggle(key="side_by_side").set_value(True).run()
    at.chat_input[0].set_value(questions[0]).run()
    assert not at.exception, at.exception
    msg = [m for m in at.chat_message if m.name == "assistant"][-1]
    assert sum("Link not from the catalog" in m.value for m in msg.markdown) == 2  # base and adapter columns
