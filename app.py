"""onbrand in the browser: ask product questions, get streamed answers grounded in the catalog, with sources.

    streamlit run app.py          # or: make run

A thin shell: every answer comes from `Assistant.ask`, the same call the CLI and the evaluation use.
The model and index are built once per process (st.cache_resource), never per browser session.
"""

from __future__ import annotations

import os
import time
from datetime import datetime, timezone

import streamlit as st

from corpus.errors import UserError
from onbrand import config
from onbrand.assistant import Assistant

st.set_page_config(page_title="onbrand", layout="wide")


@st.cache_resource(show_spinner=False)
def get_assistant(home: str, index_name: str, model: str, adapter: str) -> Assistant:
    settings = config.Settings(home=config.home(home), index_name=index_name, model=model, adapter=adapter or None)
    bar = st.progress(0.0, text="Loading the catalog index and the model…")
    t0 = time.perf_counter()

    def progress(done: int, total: int) -> None:
        elapsed = time.perf_counter() - t0
        eta = elapsed / done * (total - done) if done else 0.0
        bar.progress(done / total, text=f"Embedding catalog chunks {done}/{total} · about {eta:.0f}s left")

    try:
        return Assistant.load(settings, progress=progress)
    finally:
        bar.empty()


def adapter_picker(assistant: Assistant) -> str | None:
    """Adapter name@version (default: the promoted version of the configured name) and an on/off toggle."""
    rows = assistant.registry.list() if assistant.registry else []
    keys = [f"{r['name']}@{r['version']}" for r in rows]
    if not keys:
        st.caption("No adapters registered: answers come from the base model.")
        return None
    default = assistant.default_adapter if assistant.default_adapter in keys else keys[0]
    labels = {f"{r['name']}@{r['version']}": f"{r['name']} {r['version']}" + (" · promoted" if r["promoted"] else "")
              for r in rows}
    choice = st.selectbox("Adapter", keys, index=keys.index(default), format_func=labels.get, key="adapter")
    on = st.toggle("Adapter on", value=True, key="adapter_on")
    return choice if on else None


def sources_table(sources) -> list[dict]:
    return [{"product": s.approved_name, "id": s.product_id, "field": s.field, "score": s.score} for s in sources]


def main() -> None:
    home = os.environ.get("ONBRAND_HOME", "")
    index_name = os.environ.get("ONBRAND_INDEX", "sample")
    model = os.environ.get("ONBRAND_MODEL", config.DEFAULT_MODEL)
    adapter_name = os.environ.get("ONBRAND_ADAPTER", config.SAMPLE_ADAPTER)
    try:
        assistant = get_assistant(home, index_name, model, adapter_name)
    except UserError as e:
        st.error(str(e))
        st.stop()

    idx = assistant.index
    with st.sidebar:
        st.header("onbrand")
        st.caption(assistant.kit.brand if assistant.kit else idx.name)
        created = idx.created.astimezone(timezone.utc)
        age_h = (datetime.now(timezone.utc) - created).total_seconds() / 3600
        st.markdown(f"**Catalog index** `{idx.name}/{idx.version}`")
        st.text(f"catalog {idx.manifest['catalog']['sha256'][:12]} · "
                f"{idx.manifest['catalog']['products']} products\nbuilt {created:%Y-%m-%d %H:%M} UTC "
                f"({age_h:.1f} h ago)")
        st.divider()
        k = st.slider("Products to retrieve", 1, 6, assistant.settings.top_k, key="top_k")
        collection = st.selectbox("Collection", ["All", *assistant.retriever.collections], key="collection")
        in_stock = st.checkbox("In stock only", key="in_stock")
        brand_rules = st.checkbox("Brand rules in the prompt", key="brand_rules",
                                  help="Adds the brand kit's rules to the system prompt.")
        st.divider()
        adapter = adapter_picker(assistant)
        if st.button("Clear chat", key="clear"):
            st.session_state.history = []

    st.title("Ask the catalog")
    history = st.session_state.setdefault("history", [])
    for turn in history:
        with st.chat_message(turn["role"]):
            st.markdown(turn["content"])
            if turn.get("sources"):
                st.dataframe(turn["sources"], hide_index=True, width="stretch")

    question = st.chat_input("Ask about a product, e.g. how much is the TrailForm 28 Daypack?")
    if not question:
        return
    history.append({"role": "user", "content": question})
    with st.chat_message("user"):
        st.markdown(question)
    with st.chat_message("assistant"):
        try:
            reply = assistant.ask(question, k=k, collection=None if collection == "All" else collection,
                                  in_stock=in_stock or None, brand_rules=brand_rules, adapter=adapter)
        except UserError as e:
            st.error(str(e))
            history.pop()
            return
        st.write_stream(reply.stream)
        sources = sources_table(reply.sources)
        st.caption(f"Answered by {reply.adapter or 'the base model (no adapter)'} · sources")
        st.dataframe(sources, hide_index=True, width="stretch")
    history.append({"role": "assistant", "content": reply.text, "sources": sources})


main()
