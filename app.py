"""onbrand in the browser, for a merchandising team: chat with sources, base vs adapter side by side,
guardrail badges, spot-check rounds and a review page with a JSONL export.

    streamlit run app.py          # or: make run

A thin shell: answers come from `Assistant.ask` / `Assistant.side_by_side`, the calls the CLI and the
evaluation use, behind onbrand.serving's bounded queue. The model and index are built once per
process (st.cache_resource), never per browser session; each request names its own adapter.
Configured by environment: ONBRAND_HOME, ONBRAND_INDEX, ONBRAND_MODEL, ONBRAND_ADAPTER,
ONBRAND_BRAND_KIT, ONBRAND_MAX_WAITING, ONBRAND_EVAL_PROMPTS, ONBRAND_REVIEW_PASSWORD, and ONBRAND_BACKEND=openai
with ONBRAND_BASE_URL (and ONBRAND_API_KEY) to generate on an OpenAI-compatible server. It listens on
localhost (.streamlit/config.toml); started on any other address (--server.address 0.0.0.0) it refuses
to start unless the review pages have a password.
"""

from __future__ import annotations

from datetime import datetime, timezone

import streamlit as st

from app_pages import chat, review, spotcheck
from app_pages.common import Context, check_exposure, get_server, get_store, reviewer_field, settings_from_env
from core.errors import UserError
from core.refs import adapter_key
from onbrand.assistant import Assistant

st.set_page_config(page_title="onbrand", layout="wide")

PAGES = {"Chat": chat.render, "Spot checks": spotcheck.render, "Review": review.render}


def adapter_picker(assistant: Assistant) -> str | None:
    """Adapter name@version (default: the promoted version of the configured name) and an on/off toggle."""
    rows = assistant.registry.list() if assistant.registry else []
    keys = [adapter_key(r["name"], r["version"]) for r in rows]
    if not keys:
        st.caption("No adapters registered: answers come from the base model.")
        return None
    default = assistant.default_adapter if assistant.default_adapter in keys else keys[0]
    labels = {adapter_key(r["name"], r["version"]): f"{r['name']} {r['version']}" + (" · promoted" if r["promoted"] else "")
              for r in rows}
    choice = st.selectbox("Adapter", keys, index=keys.index(default), format_func=labels.get, key="adapter")
    on = st.toggle("Adapter on", value=True, key="adapter_on")
    return choice if on else None


def index_card(assistant: Assistant) -> None:
    assistant.follow_current()  # a refresh published since the last rerun shows here before the next answer
    idx = assistant.index
    created = idx.created.astimezone(timezone.utc)
    age_h = (datetime.now(timezone.utc) - created).total_seconds() / 3600
    st.markdown(f"**Catalog index** `{idx.name}/{idx.version}`")
    st.text(f"catalog {idx.manifest['catalog']['sha256'][:12]} · {idx.manifest['catalog']['products']} products\n"
            f"built {created:%Y-%m-%d %H:%M} UTC ({age_h:.1f} h ago)")


def main() -> None:
    try:
        check_exposure()  # before anything loads: reachable from other machines only with a review password
        env = settings_from_env()
        server = get_server(**env)
        store = get_store(env["home"])
    except UserError as e:
        st.error(str(e))
        st.stop()
    assistant = server.assistant
    with st.sidebar:
        st.header("onbrand")
        st.caption(assistant.kit.brand if assistant.kit else assistant.index.name)
        page = st.radio("Page", list(PAGES), key="page", label_visibility="collapsed")
        index_card(assistant)
        st.divider()
        adapter = adapter_picker(assistant)
        side_by_side = st.toggle("Side by side", key="side_by_side",
                                 help="Base and adapter answers to the same retrieved context, in one batched pass.")
        reviewer_field()
        st.divider()
    PAGES[page](Context(server, store, adapter, side_by_side))


main()
