import pytest

from core.config import Settings
from core.generation import Generator
from core.model import load_base_model
from onbrand.assistant import Assistant, QuestionError
from rag.index_store import load_index


@pytest.fixture()
def assistant(tiny_index, tiny_kit, embedder, talkative_lm_dir, tmp_path, monkeypatch):
    """On the talkative tiny LM (tests/conftest.py): answers are text, not the newlines the quiet one writes."""
    monkeypatch.setenv("ONBRAND_DTYPE", "fp32")
    root, name, _ = tiny_index
    settings = Settings(home=tmp_path, index_name=name, max_new_tokens=8)
    gen = Generator(load_base_model(str(talkative_lm_dir), tmp_path, device="cpu"))
    return Assistant(settings, load_index(root, name, embedder.info), embedder, gen, tiny_kit)


def test_ask_streams_and_returns_sources(assistant):
    reply = assistant.ask("how much is the sparky stove?")
    pieces = list(reply.stream)
    assert reply.text and reply.text == "".join(pieces).strip()  # the streamed pieces are the answer
    assert reply.raw and reply.stats.new_tokens <= 8
    other = assistant.answer("is the dome in stock?")
    assert other.text and other.text != reply.text  # each question gets its own answer
    top = reply.sources[0]
    assert (top.product_id, top.approved_name) == ("QK-STV-01", "Quokka Blaze Mini Stove")
    assert {s.field for s in reply.sources if s.product_id == "QK-STV-01"} >= {"overview"}
    assert "Price: $59.50" in reply.messages[1]["content"]


def test_question_and_token_bounds(assistant):
    with pytest.raises(QuestionError, match="empty"):
        assistant.ask("   ")
    with pytest.raises(QuestionError, match="limit is 1000"):
        assistant.ask("x" * 1001)
    with pytest.raises(QuestionError, match="max_new_tokens must be in 1..1024"):
        assistant.ask("tent?", max_new_tokens=5000)


def test_filters_reach_retrieval(assistant):
    reply = assistant.answer("tent", collection="Quokka Light")
    assert {s.product_id for s in reply.sources} == {"QK-LMP-01"}
    assert dict(reply.request) == {"rag": True, "k": assistant.settings.top_k, "collection": "Quokka Light",
                                   "in_stock": None, "brand_rules": False}  # the answer says how it was asked


def test_settings_validate_themselves(tmp_path):
    with pytest.raises(ValueError, match="top_k must be in 1..20, got 0"):
        Settings(home=tmp_path, top_k=0)
