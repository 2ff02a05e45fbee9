"""The chat page: ask, watch the answer stream, see its sources and badges; side by side compares the
base and the adapter on the same retrieved context, in one batched pass."""

from __future__ import annotations

from contextlib import closing
from dataclasses import asdict

import streamlit as st

from core.errors import UserError
from onbrand.guardrails import escape_markdown, marks
from app_pages.common import (Context, reviewer_unlocked, show_answer, show_badges, show_fills,
                              show_sources, sources_rows, retrieved_text, verdict_form)


def show_turn(ctx: Context, turn: dict, key: str) -> None:
    kit = ctx.assistant.kit
    if turn["mode"] == "pair":
        st.caption(escape_markdown(f"Side by side on the same retrieved context: the base model and {turn['adapter']}"))
        for col, which, title in zip(st.columns(2), ("base", "adapter_text"),
                                     ("Base model", f"Adapter {turn['adapter']}")):
            with col:
                st.markdown(f"**{escape_markdown(title)}**")
                show_answer(turn[which], kit)
                show_badges(turn["badges"][which])
                show_fills(turn.get("fills", {}).get(which, []))
                approved = sorted({m.canonical for m in marks(turn[which], kit) if m.kind == "approved"})
                st.caption(escape_markdown("Approved names: " + (", ".join(approved) or "none")))
    else:
        which = "adapter_text" if turn["judged"] == "adapter" else "base"
        show_answer(turn[which], kit)
        st.caption(escape_markdown(f"Answered by {turn['adapter'] or 'the base model (no adapter)'}"))
        show_badges(turn["badges"][which])
        show_fills(turn.get("fills", {}).get(which, []))
    show_sources(turn, key)
    if reviewer_unlocked(ask=False):
        verdict_form(turn, key, ctx.store, round_id=turn.get("round_id"))
    else:
        st.caption("Spot checks are locked: unlock them on the Spot checks page.")


def ask(ctx: Context, question: str, options: dict, case: dict | None = None) -> dict | None:
    """Answer one question (streamed into the page) and return the finished turn, or None on an error."""
    server = ctx.server
    live = st.empty()
    try:
        if ctx.side_by_side and ctx.adapter is not None:
            pair = server.side_by_side(question, adapter=ctx.adapter, **options)
            # closing: a rerun or stop raised mid-stream ends the generation and frees the queue at once
            # (the stream and its result refer to each other, so only the cycle collector would otherwise)
            with closing(pair.stream) as stream, live.container():
                holders = [col.empty() for col in st.columns(2)]
                for row, _ in stream:
                    holders[row].text(pair.texts[row] + " ▌")
            products = pair.products
            answers = {"base": pair.answers[0], "adapter_text": pair.answers[1]}
            turn = {"mode": "pair", "judged": "adapter", "adapter": pair.adapter}
        else:
            reply = server.ask(question, adapter=ctx.adapter, **options)
            parts = []
            with closing(reply.stream) as stream:
                for piece in stream:
                    parts.append(piece)
                    live.text("".join(parts) + " ▌")
            products = reply.products
            answers = {"adapter_text" if reply.adapter else "base": reply.answer}
            turn = {"mode": "single", "judged": "adapter" if reply.adapter else "base", "adapter": reply.adapter}
    except UserError as e:  # Busy, a question over the limit, an adapter that cannot load
        live.empty()
        st.error(str(e))
        return None
    live.empty()
    # the history keeps plain data: each shown answer's text, fills, badges and the snapshot that produced it
    pinned = next(iter(answers.values())).snapshot
    turn.update(role="assistant", question=question, case=case or {}, sources=sources_rows(products),
                retrieved=retrieved_text(products), index=(pinned.index.name, pinned.index.version),
                base=answers["base"].text if "base" in answers else None,
                adapter_text=answers["adapter_text"].text if "adapter_text" in answers else None,
                fills={w: [f.to_json() for f in a.fills] for w, a in answers.items()},
                badges={w: [asdict(b) for b in a.badges] for w, a in answers.items()},
                snapshots={w: a.snapshot.to_json() for w, a in answers.items()})
    return turn


def retrieval_options(ctx: Context) -> dict:
    a = ctx.assistant
    with st.sidebar:
        k = st.slider("Products to retrieve", 1, 6, a.settings.top_k, key="top_k")
        collection = st.selectbox("Collection", ["All", *a.retriever.collections], key="collection")
        in_stock = st.checkbox("In stock only", key="in_stock")
        brand_rules = st.checkbox("Brand rules in the prompt", key="brand_rules",
                                  help="Adds the brand kit's rules to the system prompt.")
        if st.button("Clear chat", key="clear"):
            st.session_state.history = []
    return {"k": k, "collection": None if collection == "All" else collection, "in_stock": in_stock or None,
            "brand_rules": brand_rules}


def render(ctx: Context) -> None:
    options = retrieval_options(ctx)
    st.title("Ask the catalog")
    if ctx.side_by_side and ctx.adapter is None:
        st.info("Side by side compares the base with an adapter: turn the adapter on.")
    history = st.session_state.setdefault("history", [])
    for i, turn in enumerate(history):
        with st.chat_message(turn["role"]):
            if turn["role"] == "user":
                st.text(turn["content"])
            else:
                show_turn(ctx, turn, str(i))

    question = st.chat_input("Ask about a product, e.g. how much is the TrailForm 28 Daypack?")
    if not question:
        return
    with st.chat_message("user"):
        st.text(question)
    with st.chat_message("assistant"):
        turn = ask(ctx, question, options)
        if turn is None:
            return
        ctx.store.log_question(question)
        history += [{"role": "user", "content": question}, turn]
        show_turn(ctx, turn, str(len(history) - 1))
