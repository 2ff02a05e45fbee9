"""What the app's pages share: the per-process server and store, safe rendering of untrusted text,
guardrail badges, the verdict form and the reviewer gate.

Model and catalog text reaches the page only as st.text, a dataframe cell, or Markdown escaped by
onbrand.guardrails.escape_markdown; nothing here uses unsafe_allow_html.
"""

from __future__ import annotations

import hmac
import os
from dataclasses import dataclass, replace
from pathlib import Path

import streamlit as st

from corpus.errors import UserError
from onbrand import config
from onbrand.assistant import Assistant
from onbrand.guardrails import Badge, badges, catalog_names, escape_markdown, marked_markdown
from onbrand.serving import DEFAULT_MAX_WAITING, Server
from onbrand.spotchecks import REASONS, SPOTCHECKS_FILE, SpotChecks, Verdict

REASON_LABELS = {"wrong_name": "Wrong name", "wrong_fact": "Wrong fact", "missing_disclaimer": "Missing disclaimer",
                 "tone": "Tone", "format": "Format", "other": "Other"}
NO_REASON = "—"


@dataclass(frozen=True)
class Context:
    """What a page gets from the shell: the process's server and store, and this session's choices."""
    server: Server
    store: SpotChecks
    adapter: str | None  # "name@version" chosen in the sidebar, None when the adapter is off
    side_by_side: bool

    @property
    def assistant(self) -> Assistant:
        return self.server.assistant


@st.cache_resource(show_spinner=False)
def get_server(home: str, index_name: str, model: str, adapter: str, brand_kit: str, max_waiting: int) -> Server:
    """One assistant (model, index, adapters) and one generation queue per process, for every session."""
    settings = config.Settings(home=config.home(home), index_name=index_name, model=model, adapter=adapter or None)
    if brand_kit:
        settings = replace(settings, brand_kit=Path(brand_kit))
    bar = st.progress(0.0, text="Loading the catalog index and the model…")

    def progress(done: int, total: int) -> None:
        bar.progress(done / total, text=f"Embedding catalog chunks {done}/{total}")

    try:
        return Server(Assistant.load(settings, progress=progress), max_waiting=max_waiting)
    finally:
        bar.empty()


@st.cache_resource(show_spinner=False)
def get_store(home: str) -> SpotChecks:
    return SpotChecks.open(config.home(home) / SPOTCHECKS_FILE)


@st.cache_resource(show_spinner=False)
def known_names(index_path: str, _assistant: Assistant) -> list[str]:
    """Catalog and approved names of the index version at index_path (computed once per version)."""
    return catalog_names(_assistant.index.products.values(), _assistant.kit)


def settings_from_env() -> dict:
    """The app is configured like the CLI: ONBRAND_HOME, ONBRAND_INDEX, ONBRAND_MODEL, ONBRAND_ADAPTER,
    ONBRAND_BRAND_KIT, ONBRAND_MAX_WAITING (questions queued behind the one generating)."""
    waiting = os.environ.get("ONBRAND_MAX_WAITING", str(DEFAULT_MAX_WAITING))
    if not waiting.isdigit():
        raise UserError(f"ONBRAND_MAX_WAITING must be a whole number, got {waiting!r}")
    return {"home": os.environ.get("ONBRAND_HOME", ""), "index_name": os.environ.get("ONBRAND_INDEX", "sample"),
            "model": os.environ.get("ONBRAND_MODEL", config.DEFAULT_MODEL),
            "adapter": os.environ.get("ONBRAND_ADAPTER", config.SAMPLE_ADAPTER),
            "brand_kit": os.environ.get("ONBRAND_BRAND_KIT", ""), "max_waiting": int(waiting)}


def answer_badges(ctx: Context, question: str, answer: str, products, messages, fills=()) -> list[Badge]:
    """The guardrail badges for one answer over the products and prompt it was given."""
    a = ctx.assistant
    return badges(question, answer, a.records(products), messages[-1]["content"], a.kit,
                  known_names(str(a.index.path), a), fills=fills, catalog=a.index.products.values())


def show_fills(fills: list[dict]) -> None:
    """Which value of the answer came from which retrieved record and field (rag/fields.py)."""
    if fills:
        with st.expander(f"Filled from the catalog ({len(fills)})"):
            st.dataframe([{"value": f["value"], "product": f["product"] or "—", "field": f["field"],
                           "filled": f["filled"]} for f in fills], hide_index=True, width="stretch")


def show_answer(text: str, kit, marked: bool = True) -> None:
    """An answer as inert Markdown; with marks, approved names green and deprecated terms struck on red."""
    st.markdown(marked_markdown(text, kit) if marked else escape_markdown(text))


def show_badges(found: list[dict]) -> None:
    """found: Badge fields as dicts (history keeps plain data)."""
    if not found:
        st.badge("Passes brand checks", icon=":material/check:", color="green")
        return
    for b in found:
        st.badge(b["label"], icon=":material/warning:", color="red" if b["kind"] != "number" else "orange")
        st.caption(escape_markdown(b["detail"]))


def sources_rows(products) -> list[dict]:
    return [{"product": ph.approved_name, "id": ph.product_id, "field": h.field, "score": round(h.score, 4)}
            for ph in products for h in ph.hits]


def retrieved_text(products) -> list[dict]:
    return [{"product": ph.approved_name, "field": h.field, "text": h.text} for ph in products for h in ph.hits]


def show_sources(turn: dict, key: str) -> None:
    st.caption("Sources")
    st.dataframe(turn["sources"], hide_index=True, width="stretch", key=f"sources-{key}")
    with st.expander("What the model read"):
        for r in turn["retrieved"]:
            st.text(f"{r['product']} · {r['field']}\n{r['text']}")


def review_password() -> str | None:
    """ONBRAND_REVIEW_PASSWORD, else review_password in .streamlit/secrets.toml; None: pages are open."""
    env = os.environ.get("ONBRAND_REVIEW_PASSWORD")
    if env:
        return env
    try:
        return st.secrets.get("review_password") or None
    except Exception:  # no secrets file at all: Streamlit raises rather than returning nothing
        return None


def reviewer_unlocked(ask: bool = True) -> bool:
    """True when no password is configured or this session entered it; else (ask) show the form."""
    password = review_password()
    if password is None or st.session_state.get("review_unlocked"):
        return True
    if ask:
        with st.form("unlock"):
            entered = st.text_input("Review password", type="password", key="review_password_input")
            if st.form_submit_button("Unlock"):
                if hmac.compare_digest(entered.encode(), password.encode()):
                    st.session_state.review_unlocked = True
                    st.rerun()
                st.error("Wrong password.")
    return False


def verdict_form(turn: dict, key: str, store: SpotChecks, round_id: int | None = None) -> None:
    """Approve or flag an answer (with a reason and a note); stored in one transaction."""
    reviewer = st.session_state.get("reviewer", "").strip()
    if turn.get("verdict_id"):
        st.success(f"Verdict recorded (#{turn['verdict_id']}).")
        return
    with st.form(f"verdict-{key}"):
        st.caption("Spot check")
        options = ["adapter", "base"] if turn.get("base") is not None and turn.get("adapter_text") is not None \
            else [turn["judged"]]
        judged = st.radio("Answer", options, horizontal=True, key=f"judged-{key}",
                          format_func=lambda o: "Adapter answer" if o == "adapter" else "Base answer")
        verdict = st.radio("Verdict", ["approve", "flag"], horizontal=True, key=f"choice-{key}",
                           format_func=str.capitalize)
        reason = st.selectbox("Reason", [NO_REASON, *REASONS], key=f"reason-{key}",
                              format_func=lambda r: REASON_LABELS.get(r, r))
        note = st.text_input("Note", key=f"note-{key}", max_chars=2000)
        if not st.form_submit_button("Record verdict"):
            return
    if not reviewer:
        st.error("Enter your name as reviewer in the sidebar first.")
        return
    adapter_key = turn.get("adapter")
    name, _, version = (adapter_key or "").partition("@")
    try:
        stored = store.record(Verdict(
            question=turn["question"], retrieved_ids=tuple(dict.fromkeys(r["id"] for r in turn["sources"])),
            judged=judged, base_answer=turn.get("base"), adapter_answer=turn.get("adapter_text"),
            adapter=name or None, adapter_version=version or None, index_name=turn["index"][0],
            index_version=turn["index"][1], verdict=verdict, reason=None if reason == NO_REASON else reason,
            note=note, reviewer=reviewer, case=turn.get("case", {}), round_id=round_id))
    except UserError as e:
        st.error(str(e))
        return
    turn["verdict_id"] = stored.id
    st.success(f"Verdict recorded (#{stored.id}).")
