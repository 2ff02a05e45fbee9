"""The review page: every recorded verdict, filtered by verdict, reason, adapter and reviewer, and
exported as JSONL evaluation cases (see the README's "Using the app")."""

from __future__ import annotations

import streamlit as st

from core.refs import adapter_key
from onbrand.guardrails import escape_markdown
from onbrand.spotchecks import REASONS, export_jsonl
from app_pages.common import REASON_LABELS, Context, reviewer_unlocked

ALL, BASE_ONLY = "All", "(base model alone)"


def render(ctx: Context) -> None:
    st.title("Spot-check review")
    if not reviewer_unlocked():
        return
    store = ctx.store
    c1, c2, c3, c4 = st.columns(4)
    verdict = c1.selectbox("Verdict", [ALL, "approve", "flag"], key="filter_verdict")
    reason = c2.selectbox("Reason", [ALL, *REASONS], key="filter_reason", format_func=lambda r: REASON_LABELS.get(r, r))
    adapter = c3.selectbox("Adapter", [ALL, BASE_ONLY, *store.adapters()], key="filter_adapter")
    reviewer = c4.selectbox("Reviewer", [ALL, *store.reviewers()], key="filter_reviewer")
    rows = store.verdicts(verdict=None if verdict == ALL else verdict, reason=None if reason == ALL else reason,
                          adapter=None if adapter == ALL else ("" if adapter == BASE_ONLY else adapter),
                          reviewer=None if reviewer == ALL else reviewer)
    st.caption(f"{len(rows)} verdicts")
    if not rows:
        return
    st.dataframe([{"id": v.id, "time": v.created_at, "reviewer": v.reviewer, "verdict": v.verdict,
                   "reason": v.reason or "", "answer": v.judged,
                   "adapter": adapter_key(v.adapter, v.adapter_version) if v.adapter else "",
                   "index": f"{v.index_name}/{v.index_version}", "question": v.question, "note": v.note}
                  for v in rows], hide_index=True, width="stretch", key="verdicts_table")
    st.download_button("Export JSONL", export_jsonl(rows), file_name="spotchecks.jsonl",
                       mime="application/jsonl", key="export", icon=":material/download:")
    chosen = st.selectbox("Details of", [v.id for v in rows], key="detail_id", format_func=lambda i: f"#{i}")
    v = next(v for v in rows if v.id == chosen)
    st.markdown(f"**Question:** {escape_markdown(v.question)}")
    for title, text in (("Base answer", v.base_answer), ("Adapter answer", v.adapter_answer)):
        if text is not None:
            st.markdown(f"**{title}**" + (" (judged)" if title.lower().startswith(v.judged) else ""))
            st.markdown(escape_markdown(text))
    if v.note:
        st.markdown(f"**Note:** {escape_markdown(v.note)}")
