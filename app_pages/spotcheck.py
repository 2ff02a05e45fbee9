"""The spot-check page: sample N questions (held-out prompts, recent app questions or an uploaded JSONL)
and walk through them one by one, recording a verdict on each answer."""

from __future__ import annotations

import os
from pathlib import Path

import streamlit as st

from core.errors import UserError
from corpus import SAMPLE_EVAL_PROMPTS
from onbrand.guardrails import escape_markdown
from onbrand.spotchecks import MAX_UPLOAD_BYTES, parse_questions
from app_pages.chat import ask, show_turn
from app_pages.common import Context, reviewer_missing, reviewer_name, reviewer_unlocked

SOURCE_LABELS = {"heldout": "Held-out prompts", "recent": "Recent app questions", "upload": "A JSONL file"}


def prompts_file() -> Path:
    """ONBRAND_EVAL_PROMPTS, else the sample merchant's held-out prompts."""
    return Path(os.environ.get("ONBRAND_EVAL_PROMPTS") or SAMPLE_EVAL_PROMPTS)


def start_form(ctx: Context) -> None:
    source = st.radio("Questions from", list(SOURCE_LABELS), format_func=SOURCE_LABELS.get, key="round_source",
                      horizontal=True)
    n = st.number_input("Questions in the round", 1, 50, 5, key="round_n")
    seed = st.number_input("Seed (the same seed samples the same questions)", 0, 1_000_000, 0, key="round_seed")
    uploaded = None
    if source == "upload":
        uploaded = st.file_uploader("Questions, one JSON object with a \"question\" per line", type=["jsonl"],
                                    key="round_file", max_upload_size=MAX_UPLOAD_BYTES // (1024 * 1024))
    if not st.button("Start round", key="start_round", type="primary"):
        return
    reviewer = reviewer_name()
    try:
        if not reviewer:
            raise UserError(reviewer_missing())
        cases = None
        if source == "upload":
            if uploaded is None:
                raise UserError("Choose a question file first.")
            cases = parse_questions(uploaded.getvalue(), uploaded.name)
        rnd = ctx.store.start_round(source, int(n), int(seed), reviewer, prompts=prompts_file(), uploaded=cases)
    except UserError as e:
        st.error(str(e))
        return
    st.session_state.update(round=rnd, round_pos=0, round_turns={})
    st.rerun()


def render(ctx: Context) -> None:
    st.title("Spot checks")
    if not reviewer_unlocked():
        return
    rnd = st.session_state.get("round")
    if rnd is None:
        start_form(ctx)
        return
    pos, total = st.session_state.round_pos, len(rnd.cases)
    if pos >= total:
        st.success(f"Round #{rnd.id} done: {total} questions.")
        if st.button("Start another round", key="new_round"):
            del st.session_state["round"]
            st.rerun()
        return
    st.progress(pos / total, text=f"Round #{rnd.id} ({SOURCE_LABELS[rnd.source]}) · question {pos + 1} of {total}")
    case = rnd.cases[pos]
    st.markdown(f"**Question:** {escape_markdown(case['question'])}")
    turns = st.session_state.round_turns
    if pos not in turns:
        turn = ask(ctx, case["question"], {}, case={k: v for k, v in case.items() if k != "question"})
        if turn is not None:
            turns[pos] = {**turn, "round_id": rnd.id}
    if pos in turns:
        show_turn(ctx, turns[pos], f"r{rnd.id}-{pos}")
    left, right = st.columns(2)
    if left.button("Next question", key="next_question", type="primary"):
        st.session_state.round_pos += 1
        st.rerun()
    if right.button("End round", key="end_round"):
        del st.session_state["round"]
        st.rerun()
