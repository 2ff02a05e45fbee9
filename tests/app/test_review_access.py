"""The review side (issue 17, group 6): an app that listens beyond this machine refuses to start unless the
spot-check and review pages have a password, saying how to set one; with an identity provider the
reviewer's name is the signed-in user's (st.user). AppTest, on the tiny model (tests/app/conftest.py)."""

from __future__ import annotations

import re
import sys

import pytest
from streamlit import config

from onbrand.spotchecks import SPOTCHECKS_FILE, SpotChecks


@pytest.fixture()
def address():
    """Set server.address as `--server.address` would for the AppTest runs of one test, then restore it."""
    before = config.get_option("server.address")

    def set_to(value):
        config.set_option("server.address", value)

    yield set_to
    config.set_option("server.address", before)


def _unescape(md: str) -> str:
    return re.sub(r"\\(.)", r"\1", md)


def _sidebar_captions(at) -> str:
    return " ".join(_unescape(c.value) for c in at.sidebar.caption)


def _common(new_app):
    """app_pages.common as the app imported it (AppTest puts the app's folder on the path for its runs)."""
    if "app_pages.common" not in sys.modules:
        new_app()
    return sys.modules["app_pages.common"]


def test_the_rule_for_what_counts_as_this_machine(new_app):
    is_local = _common(new_app).is_local
    assert all(is_local(a) for a in ("localhost", "LOCALHOST", "127.0.0.1", "127.0.1.1", "::1", "[::1]"))
    assert not any(is_local(a) for a in (None, "", "0.0.0.0", "::", "192.168.1.20", "10.0.0.5", "shop.example",
                                         "unix:///tmp/onbrand.sock"))


@pytest.mark.parametrize("listen", [None, "0.0.0.0", "192.168.1.20"])
def test_listening_beyond_localhost_without_a_password_refuses_to_start(new_app, address, listen, monkeypatch):
    common = _common(new_app)
    address(listen)
    started = []
    monkeypatch.setattr(common, "get_server", lambda **kw: started.append(kw))  # not reached: nothing loads
    at = new_app(run=False)
    at.run()
    assert not at.exception and not started
    [error] = at.error
    assert f"listens on {listen or 'every network interface'}" in error.value
    assert "ONBRAND_REVIEW_PASSWORD" in error.value and "--server.address localhost" in error.value
    assert not at.chat_input and not at.sidebar.radio  # no page was drawn


def test_listening_beyond_localhost_with_a_password_starts_with_the_review_pages_locked(new_app, address,
                                                                                      monkeypatch):
    address("0.0.0.0")
    monkeypatch.setenv("ONBRAND_REVIEW_PASSWORD", "s3cret")
    at = new_app()
    assert not at.error and at.chat_input  # the chat page works for everyone
    for page in ("Spot checks", "Review"):
        at.sidebar.radio(key="page").set_value(page).run()
        assert at.text_input(key="review_password_input") and not at.get("dataframe")
    at.text_input(key="review_password_input").input("s3cret")
    [unlock] = [b for b in at.button if b.label == "Unlock"]
    unlock.click().run()
    assert not at.exception and at.title[0].value == "Spot-check review"


def test_on_localhost_no_password_is_needed(new_app, address):
    address("127.0.0.1")
    at = new_app()
    assert not at.error
    at.sidebar.radio(key="page").set_value("Review").run()
    assert not at.exception and at.title[0].value == "Spot-check review"
    assert all(t.key != "review_password_input" for t in at.text_input)  # open, no password asked


def _record_verdict(at, question):
    at.chat_input[0].set_value(question).run()
    assert not at.exception, at.exception
    [record] = [b for b in at.button if b.label == "Record verdict"]
    record.click().run()
    assert not at.exception, at.exception


def test_a_signed_in_reviewer_is_named_by_the_identity_provider(new_app, app_env, questions):
    at = new_app(run=False)
    at.user = {"is_logged_in": True, "name": "Ana Lima", "email": "ana@fernhollow.example"}
    at.run()
    assert not at.exception
    assert not [t for t in at.sidebar.text_input if t.label == "Reviewer"]  # no name to type, or to fake
    assert "Reviewer: Ana Lima (signed in)" in _sidebar_captions(at)
    before = {v.id for v in SpotChecks.open(app_env / SPOTCHECKS_FILE).verdicts()}
    _record_verdict(at, questions[0])
    assert any("Verdict recorded" in s.value for s in at.success)
    [new] = [v for v in SpotChecks.open(app_env / SPOTCHECKS_FILE).verdicts() if v.id not in before]
    assert new.reviewer == "Ana Lima" and new.question == questions[0]


def test_before_signing_in_verdicts_ask_for_the_login(new_app, app_env, questions):
    at = new_app(run=False)
    at.user = {"is_logged_in": False}  # an identity provider is configured; nobody is signed in yet
    at.run()
    assert not at.exception
    assert [b for b in at.sidebar.button if b.label == "Log in"]
    assert not [t for t in at.sidebar.text_input if t.label == "Reviewer"]
    before = len(SpotChecks.open(app_env / SPOTCHECKS_FILE).verdicts())
    _record_verdict(at, questions[1])
    assert any("Log in" in e.value for e in at.error)
    assert len(SpotChecks.open(app_env / SPOTCHECKS_FILE).verdicts()) == before
