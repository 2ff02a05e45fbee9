"""Every page and control of the app, headless (AppTest), on the tiny model and the tiny payload index."""

from __future__ import annotations

import json
import re
import sys
import threading
import time

from onbrand.guardrails import escape_markdown, marked_markdown
from onbrand.serving import BUSY_MESSAGE
from onbrand.spotchecks import SPOTCHECKS_FILE, SpotChecks, export_jsonl


def _common():
    return sys.modules["app_pages.common"]


def _server():
    c = _common()
    return c.get_server(**c.settings_from_env())


def _ask(at, question):
    at.chat_input[0].set_value(question).run()
    assert not at.exception, at.exception
    return [m for m in at.chat_message if m.name == "assistant"][-1]


def _markdown(el) -> list[str]:
    return [m.value for m in el.markdown]


def _button(at, label):
    [b] = [b for b in at.button if b.label == label]
    return b


def _unescape(md: str) -> str:
    return re.sub(r"\\(.)", r"\1", md)


def _captions(el) -> str:
    return " ".join(_unescape(c.value) for c in el.caption)


def test_the_app_decodes_as_the_environment_says(app_env, monkeypatch):
    """ONBRAND_ADAPTER_WEIGHTS, ONBRAND_INT8_ROWS, ONBRAND_DRAFT_ROWS and ONBRAND_PROMPT_CACHE_MB reach the app's
    generator, as they reach the CLI's (the app built its Settings from a subset of the environment and dropped
    them; ONBRAND_DRAFT_ROWS was dropped so until session 28)."""
    from app_pages import common

    generator = common.get_server(**common.settings_from_env()).assistant.generator
    assert generator.adapter_weights == "merged" and generator.prompt_cache_bytes == 128 * 2**20
    assert generator.draft_rows == 5
    monkeypatch.setenv("ONBRAND_ADAPTER_WEIGHTS", "lora")
    monkeypatch.setenv("ONBRAND_INT8_ROWS", "8")
    monkeypatch.setenv("ONBRAND_DRAFT_ROWS", "0")
    monkeypatch.setenv("ONBRAND_PROMPT_CACHE_MB", "0")
    generator = common.get_server(**common.settings_from_env()).assistant.generator
    assert generator.adapter_weights == "lora" and generator.int8_rows == 8
    assert generator.draft_rows == 0 and generator.drafts is None and generator.prompt_cache_bytes == 0


def test_chat_streams_an_answer_with_sources_badges_and_the_index_card(new_app, questions):
    at = new_app()
    sidebar = " ".join(t.value for t in at.sidebar.text)
    assert "5 products" in sidebar and "built" in sidebar and "h ago" in sidebar
    assert any("tiny/v0001" in m.value for m in at.sidebar.markdown)
    msg = _ask(at, questions[0])
    expected = _server().answer(questions[0]).text  # the same request, alone
    assert msg.markdown[0].value == marked_markdown(expected, _server().assistant.kit)
    assert "Answered by quokka@v0001" in _captions(msg)
    badges = [m for m in _markdown(msg) if "-badge[" in m]
    assert badges and all("Passes brand checks" in b or "Number not in sources" in b or "Unknown product" in b
                          or "Missing disclaimer" in b or "Deprecated" in b or "Trademark" in b for b in badges)
    sources = at.dataframe[-1].value
    assert list(sources.columns) == ["product", "id", "field", "score"]
    assert sources.iloc[0]["id"] == "QK-TNT-01" and sources.iloc[0]["product"] == "Quokka Dome 2 Tent"
    assert [m for m in at.chat_message if m.name == "user"][-1].text[0].value == questions[0]


def test_adapter_picker_defaults_to_the_promoted_adapter_and_can_switch_or_turn_off(new_app, questions):
    at = new_app()
    picker = at.sidebar.selectbox(key="adapter")
    assert picker.value == "quokka@v0001" and "wombat v0001 · promoted" in picker.options  # options are labels
    picker.set_value("wombat@v0001").run()
    msg = _ask(at, questions[1])
    assert "Answered by wombat@v0001" in _captions(msg)
    assert msg.markdown[0].value == marked_markdown(_server().answer(questions[1], adapter="wombat@v0001").text,
                                                    _server().assistant.kit)
    at.sidebar.toggle(key="adapter_on").set_value(False).run()
    msg = _ask(at, questions[1])
    assert "Answered by the base model (no adapter)" in _captions(msg)
    assert msg.markdown[0].value == marked_markdown(_server().answer(questions[1], adapter=None).text,
                                                    _server().assistant.kit)


def test_side_by_side_shows_base_and_adapter_on_the_same_context(new_app, questions):
    at = new_app()
    at.sidebar.toggle(key="side_by_side").set_value(True).run()
    msg = _ask(at, questions[0])
    pair = _server().assistant.side_by_side(questions[0], adapter="quokka@v0001")
    list(pair.stream)
    kit = _server().assistant.kit
    md = _markdown(msg)
    assert "**Base model**" in md and "**Adapter quokka\\@v0001**" in md
    assert marked_markdown(pair.texts[0], kit) in md and marked_markdown(pair.texts[1], kit) in md
    assert md.index(marked_markdown(pair.texts[0], kit)) < md.index(marked_markdown(pair.texts[1], kit))
    captions = _captions(msg)
    assert "same retrieved context" in captions and captions.count("Approved names") == 2
    assert sum("-badge[" in m for m in md) >= 2  # each column has its badges
    assert at.dataframe[-1].value.iloc[0]["id"] == "QK-TNT-01"
    # the adapter off: side by side says what it needs instead of answering
    at.sidebar.toggle(key="adapter_on").set_value(False).run()
    assert "turn the adapter on" in at.info[0].value


def test_retrieval_controls_and_clear_chat(new_app):
    at = new_app()
    at.sidebar.slider(key="top_k").set_value(1).run()
    at.sidebar.selectbox(key="collection").set_value("Quokka Shelter").run()
    at.sidebar.checkbox(key="in_stock").check().run()
    at.sidebar.checkbox(key="brand_rules").check().run()
    _ask(at, "what stove do you have?")
    sources = at.dataframe[-1].value
    assert set(sources["id"]) <= {"QK-TNT-01", "QK-TNT-02"} and sources["id"].nunique() == 1  # k=1, tents only
    at.sidebar.button(key="clear").click().run()
    at.run()
    assert not at.chat_message


def test_an_overlong_question_is_refused_politely(new_app):
    at = new_app()
    at.chat_input[0].set_value("x" * 1500).run()
    assert not at.exception
    assert "limit is 1000" in at.error[0].value
    assert at.session_state["history"] == []  # nothing half-answered is kept


def test_catalog_and_model_markup_render_as_text_never_html(new_app, payload):
    at = new_app()
    msg = _ask(at, "does the quokka dome 2 have two doors?")  # its description (with the payload) is retrieved
    shown = [t.value for t in msg.text]
    assert any(payload in t for t in shown)  # the description, payload included, as plain text
    every = [m for m in at.markdown] + [m for m in at.sidebar.markdown] + list(at.caption)
    assert every and not any(m.proto.allow_html for m in every)
    for m in msg.markdown:  # model text is escaped: no raw tag, link or image syntax survives
        assert not re.search(r"(?<!\\)<", m.value) and "](" not in m.value
    assert escape_markdown(payload).count("\\<") == payload.count("<")


def test_a_verdict_is_recorded_then_listed_filtered_and_exported(new_app, app_env, questions):
    at = new_app()
    at.sidebar.toggle(key="side_by_side").set_value(True).run()
    _ask(at, questions[0])
    key = str(len(at.session_state["history"]) - 1)
    _button(at, "Record verdict").click().run()
    assert "Enter your name as reviewer" in at.error[0].value  # nobody to attribute it to: nothing stored
    at.sidebar.text_input(key="reviewer").input("ana").run()
    at.radio(key=f"judged-{key}").set_value("base")
    at.radio(key=f"choice-{key}").set_value("flag")
    at.selectbox(key=f"reason-{key}").set_value("wrong_name")
    at.text_input(key=f"note-{key}").input("calls it <b>the dome</b>")
    _button(at, "Record verdict").click().run()
    assert not at.exception
    assert any("Verdict recorded" in s.value for s in at.success)
    [v] = SpotChecks.open(app_env / SPOTCHECKS_FILE).verdicts(reviewer="ana", reason="wrong_name")
    turn = at.session_state["history"][-1]
    assert (v.judged, v.verdict, v.note, v.question) == ("base", "flag", "calls it <b>the dome</b>", questions[0])
    assert (v.base_answer, v.adapter_answer) == (turn["base"], turn["adapter_text"])
    assert (v.adapter, v.adapter_version, v.index_name, v.index_version) == ("quokka", "v0001", "tiny", "v0001")
    assert v.retrieved_ids[0] == "QK-TNT-01"
    # the judged answer's snapshot, from the pipeline's Answer: the base column answered with no adapter
    assert v.snapshot == turn["snapshots"]["base"] and v.snapshot["adapter"] is None
    assert v.snapshot["index"] == {"name": "tiny", "version": "v0001"} and v.snapshot["backend"] == "local"
    assert turn["snapshots"]["adapter_text"]["adapter"]["key"] == "quokka@v0001"

    at.sidebar.radio(key="page").set_value("Review").run()
    assert not at.exception
    table = at.main.dataframe[0].value
    assert v.id in set(table["id"]) and (table["reviewer"] == "ana").any()
    assert at.get("download_button")  # the export
    at.selectbox(key="filter_reviewer").set_value("ana").run()
    at.selectbox(key="filter_verdict").set_value("flag").run()
    at.selectbox(key="filter_reason").set_value("wrong_name").run()
    at.selectbox(key="filter_adapter").set_value("quokka@v0001").run()
    table = at.main.dataframe[0].value
    assert set(table["id"]) == {v.id}
    at.selectbox(key="filter_verdict").set_value("approve").run()
    assert "0 verdicts" in at.main.caption[0].value
    line = json.loads(export_jsonl([v]))
    assert line["question"] == questions[0] and line["verdict"] == "flag" and line["answer"] == turn["base"]


def test_a_spot_check_round_walks_through_sampled_questions(new_app, app_env):
    at = new_app()
    at.sidebar.text_input(key="reviewer").input("bo").run()
    at.sidebar.radio(key="page").set_value("Spot checks").run()
    at.radio(key="round_source").set_value("heldout")
    at.number_input(key="round_n").set_value(2)
    at.number_input(key="round_seed").set_value(3)
    at.button(key="start_round").click().run()
    assert not at.exception, at.exception
    rnd = at.session_state["round"]
    assert len(rnd.cases) == 2
    for pos in range(2):
        assert f"question {pos + 1} of 2" in at.get("progress")[0].proto.text
        case = rnd.cases[pos]
        assert escape_markdown(case["question"]) in at.main.markdown[0].value
        key = f"r{rnd.id}-{pos}"
        at.radio(key=f"choice-{key}").set_value("approve" if pos == 0 else "flag")
        at.selectbox(key=f"reason-{key}").set_value("tone")
        _button(at, "Record verdict").click().run()
        assert any("Verdict recorded" in s.value for s in at.success)
        at.button(key="next_question").click().run()
    assert "done: 2 questions" in at.success[0].value
    stored = SpotChecks.open(app_env / SPOTCHECKS_FILE).verdicts(reviewer="bo")
    assert sorted(v.case["id"] for v in stored) == sorted(c["id"] for c in rnd.cases)
    assert {v.round_id for v in stored} == {rnd.id}
    lines = [json.loads(x) for x in export_jsonl(stored).splitlines()]
    assert all(x["product_ids_from"] == "case" and x["id"].startswith("tp-") for x in lines)
    # a "recent" round samples what was asked in the app
    at.button(key="new_round").click().run()
    at.radio(key="round_source").set_value("recent")
    at.button(key="start_round").click().run()
    assert not at.exception and at.session_state["round"].source == "recent"


def test_the_review_pages_can_be_protected_by_a_password(new_app, monkeypatch):
    monkeypatch.setenv("ONBRAND_REVIEW_PASSWORD", "s3cret")
    at = new_app()
    _ask(at, "is the dome in stock?")
    assert not [b for b in at.button if b.label == "Record verdict"]
    assert "Spot checks are locked" in _captions(at)
    for page in ("Spot checks", "Review"):
        at.sidebar.radio(key="page").set_value(page).run()
        assert at.text_input(key="review_password_input") and not at.get("dataframe")
    at.text_input(key="review_password_input").input("guess")
    _button(at, "Unlock").click().run()
    assert "Wrong password" in at.error[0].value
    at.text_input(key="review_password_input").input("s3cret")
    _button(at, "Unlock").click().run()
    assert not at.exception and at.title[0].value == "Spot-check review"
    assert not at.get("text_input") or all(t.key != "review_password_input" for t in at.text_input)


def test_a_full_queue_shows_busy_instead_of_waiting(new_app, questions):
    import threading

    at = new_app()
    server = _server()
    full, release = server.max_batch + server.max_waiting, threading.Event()

    def hold():  # a request that has its place (or waits for one) until released
        with server.slot():
            release.wait()

    holders = [threading.Thread(target=hold) for _ in range(full)]
    for t in holders:  # the queue is full: max_batch generating and max_waiting waiting
        t.start()
    try:
        assert server.wait_in_flight(full, timeout=60)
        at.chat_input[0].set_value(questions[0]).run()
    finally:
        release.set()
        for t in holders:
            t.join()
    assert not at.exception
    assert at.error[0].value == BUSY_MESSAGE
    _ask(at, questions[0])  # and it answers again once there is room
    assert not at.error


def test_concurrent_sessions_with_different_adapters_share_one_model_and_keep_their_answers(new_app, questions):
    # five sessions: the generating one plus ONBRAND_MAX_WAITING=4 queued, so none is told "busy"
    choices = [("quokka@v0001", True), ("wombat@v0001", True), ("wombat@v0001", True), ("quokka@v0001", False),
               ("quokka@v0001", True)]  # session i asks questions[i % 2]
    sessions = []
    for adapter, on in choices:
        at = new_app()
        at.sidebar.selectbox(key="adapter").set_value(adapter).run()
        at.sidebar.toggle(key="adapter_on").set_value(on).run()
        sessions.append(at)
    server = _server()
    expected = [server.answer(questions[i % 2], adapter=a if on else None).text
                for i, (a, on) in enumerate(choices)]
    requests = {(i % 2, a if on else None) for i, (a, on) in enumerate(choices)}
    assert len(set(expected)) == len(requests) == 4  # different requests, different answers: a swap would show
    start = threading.Barrier(len(sessions))
    errors = []

    def go(i, at):
        try:
            start.wait()
            at.chat_input[0].set_value(questions[i % 2]).run(timeout=300)
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    peak, done = [0], threading.Event()

    def watch():  # how many requests the queue held at once: proof the sessions overlapped
        while not done.is_set():
            peak[0] = max(peak[0], server.in_flight)
            time.sleep(0.0005)

    watcher = threading.Thread(target=watch)
    watcher.start()
    threads = [threading.Thread(target=go, args=(i, at)) for i, at in enumerate(sessions)]
    [t.start() for t in threads]
    [t.join(timeout=600) for t in threads]
    done.set()
    watcher.join()
    assert not errors
    assert peak[0] >= 2, peak
    kit = server.assistant.kit
    for at, text, (adapter, on) in zip(sessions, expected, choices):
        assert not at.exception and not at.error, (at.exception, at.error)
        msg = [m for m in at.chat_message if m.name == "assistant"][-1]
        assert msg.markdown[0].value == marked_markdown(text, kit)
        assert at.session_state["history"][-1]["adapter"] == (adapter if on else None)
    assert _server() is server and server.assistant.default_adapter == "quokka@v0001"  # one per process


def test_a_round_from_an_uploaded_question_file_is_bounded_and_can_be_ended(new_app):
    from onbrand.spotchecks import MAX_UPLOAD_BYTES

    at = new_app()
    at.sidebar.text_input(key="reviewer").input("cy").run()
    at.sidebar.radio(key="page").set_value("Spot checks").run()
    at.radio(key="round_source").set_value("upload").run()
    uploader = at.get("file_uploader")[0]
    assert uploader.proto.max_upload_size_mb == 1  # the browser refuses more than 1 MB ...
    big = b'{"question": "x"}\n' * (MAX_UPLOAD_BYTES // 18 + 1)
    uploader.set_value(("big.jsonl", big, "application/jsonl"))
    at.button(key="start_round").click().run()
    assert not at.exception
    assert "big.jsonl" in at.error[0].value and "limit" in at.error[0].value  # ... and so does the server
    assert "round" not in at.session_state
    good = b'{"question": "does the glowworm headlamp float?", "id": "up-1"}\n{"question": "is the dome 2 in stock?"}\n'
    at.get("file_uploader")[0].set_value(("mine.jsonl", good, "application/jsonl"))
    at.number_input(key="round_n").set_value(2)
    at.button(key="start_round").click().run()
    assert not at.exception, at.exception
    rnd = at.session_state["round"]
    assert rnd.source == "upload" and sorted(c["question"] for c in rnd.cases) == sorted(
        ["does the glowworm headlamp float?", "is the dome 2 in stock?"])
    assert at.session_state["round_turns"]  # the first question was answered
    at.button(key="end_round").click().run()
    assert not at.exception and "round" not in at.session_state
    assert at.button(key="start_round")  # back to the form
