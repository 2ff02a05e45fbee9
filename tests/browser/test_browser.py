"""The app in a real browser (headless Debian Chromium via Playwright), on the real default model and the
shipped adapter: ask, see sources, flip side by side, record a verdict, find it on the review page,
export it. A script/markup payload in a catalog description must show as text. Saves screenshots.

Skipped, saying why, when the playwright package or /usr/bin/chromium is missing (scripts/setup.sh
installs both as root); under CI=true that fails instead. Never `playwright install`: the browser is Debian's.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.integration]

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
MARK = "onbrand-xss-probe"
PAYLOAD = f'<script>window.__xss = "{MARK}"</script><img src=x onerror="window.__xss = 2"> **{MARK}**'
QUESTION = "what pockets does the TrailForm 28 Daypack have?"  # its description chunk (with the payload) ranks first
# a planted contradiction: a false price drop in the TrailForm 18 Daypack's description. Asked side by side, the
# base model (adapter off) states a price its record contradicts ($84.50), and the contradiction badge, the
# scorecard's own check (corpus/claims.py), names the claim and the catalog value; the adapter's answer fills
# the price from the record and carries no such badge
PLANT = "Price drop: now just $1.00 today."
# the base model answers this one with a price of its own ("now available for $2.05"), which the badge names;
# asked "is there a price drop on the TrailForm 18 Daypack?" it stated no price once its repetition penalty
# counted only the answer's tokens (Settings.penalize_prompt), and the badge had nothing to show
PLANTED_ID, PLANTED_QUESTION = "FH-TRL-002", "what does the TrailForm 18 Daypack cost after the price drop?"
SLOW = 300_000  # ms: the first answer waits for the model to load on 2 busy CPU cores


def _missing(why: str):
    """Skip on a developer's machine; under CI=true a missing browser fails the run, so CI cannot go green
    without the browser tier (issue 17)."""
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"CI=true and the browser tier cannot run: {why}")
    pytest.skip(why)


def _playwright():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("the playwright package is not installed (pip install -e '.[dev]')")
    if not os.access(CHROMIUM, os.X_OK):
        _missing(f"{CHROMIUM} is missing (apt-get install chromium chromium-driver; scripts/setup.sh does it as root)")
    return sync_playwright


@pytest.fixture(scope="module")
def browser_home(tmp_path_factory):
    """The sample merchant with a payload in the TrailForm 28 Daypack's description, and the default model."""
    sync_playwright = _playwright()
    from corpus import SAMPLE_BRAND_KIT, SAMPLE_CATALOG, load_brand_kit, load_catalog
    from onbrand.cli import main
    from rag.embedding import Embedder
    from rag.index_store import build_index

    home = tmp_path_factory.mktemp("browser-home")
    rows = [json.loads(line) for line in SAMPLE_CATALOG.read_text().splitlines() if line.strip()]
    [row] = [r for r in rows if r["id"] == "FH-TRL-001"]
    row["description"] += " " + PAYLOAD
    [planted] = [r for r in rows if r["id"] == PLANTED_ID]
    planted["description"] = PLANT + " " + planted["description"]
    catalog = home / "catalog.jsonl"
    catalog.write_text("".join(json.dumps(r) + "\n" for r in rows))
    build_index(load_catalog(catalog), Embedder.load(), home / "indexes", "sample", kit=load_brand_kit(SAMPLE_BRAND_KIT))
    assert main(["--home", str(home), "prepare"]) == 0  # converts the default model; the index is there
    return home, sync_playwright


@pytest.fixture(scope="module")
def app_url(browser_home, tmp_path_factory):
    home, _ = browser_home
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = tmp_path_factory.mktemp("streamlit") / "streamlit.log"
    env = {**os.environ, "ONBRAND_HOME": str(home), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    env.pop("ONBRAND_REVIEW_PASSWORD", None)
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
                                 "--server.address", "127.0.0.1", "--server.port", str(port),
                                 # no source watcher: on a busy tree its inotify queue overflowed and its
                                 # rescans held the CPU for minutes (a fresh-clone run timed out here)
                                 "--server.fileWatcherType", "none"],
                                cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + SLOW / 1000  # bounds a hang; the loop waits on /_stcore/health
        while True:
            try:
                if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).read() == b"ok":
                    break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"streamlit did not start:\n{log.read_text()[-3000:]}")
            time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        print(f"streamlit log: {log}")


def _idle(page) -> None:
    """Wait until Streamlit has finished the current run (its status widget goes away)."""
    page.wait_for_function("!document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=SLOW)


def test_ask_compare_record_review_export(browser_home, app_url, tmp_path):
    _, sync_playwright = browser_home
    from playwright.sync_api import expect  # importable: browser_home checked

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        context = browser.new_context(accept_downloads=True, viewport={"width": 1500, "height": 1100})
        # every wait is on the page's state; its limit only bounds a hang (2 busy cores can take minutes)
        context.set_default_timeout(SLOW)
        expect.set_options(timeout=SLOW)
        page = context.new_page()
        try:
            page.goto(app_url)
            sidebar = page.get_by_test_id("stSidebar")
            chat = page.get_by_test_id("stChatInputTextArea")
            chat.wait_for(timeout=SLOW)
            # the reviewer's name first, so no rerun for it runs while a verdict form is being filled in
            reviewer = sidebar.get_by_label("Reviewer", exact=True)
            reviewer.fill("browser-test")
            reviewer.press("Enter")
            _idle(page)

            # 1. ask: a streamed answer with its sources
            chat.fill(QUESTION)
            chat.press("Enter")
            page.get_by_role("button", name="Record verdict").first.wait_for(timeout=SLOW)
            _idle(page)
            expect(page.get_by_text("Answered by fernhollow@")).to_have_count(1)
            page.get_by_text("Sources").first.wait_for()
            # the grid is a lazily loaded component: it can mount a moment after its caption
            page.get_by_test_id("stDataFrame").last.wait_for(timeout=SLOW)  # the sources (the fills grid is folded)
            # the payload in the catalog description is shown as text and never runs
            page.get_by_text("What the model read").first.click()
            page.get_by_text(f'<script>window.__xss = "{MARK}"</script>', exact=False).first.wait_for()
            assert page.evaluate("window.__xss") is None
            assert page.locator('img[src="x"]').count() == 0
            assert page.locator(f"script:has-text('{MARK}')").count() == 0

            # 2. side by side: both answers, on the same context, with their marks and badges
            sidebar.get_by_text("Side by side", exact=True).click()
            chat.fill(PLANTED_QUESTION)
            chat.press("Enter")
            # (the previous run's elements stay on the page, greyed, until replaced: wait for new ones)
            page.get_by_text("Base model", exact=True).wait_for(timeout=SLOW)
            page.get_by_text("Adapter fernhollow@v", exact=False).first.wait_for()
            _idle(page)
            expect(page.get_by_text("Approved names:", exact=False)).to_have_count(2)  # waits: a column can render late
            # the planted contradiction: one badge (the base column's), naming the claim and the catalog value
            page.get_by_text("Contradicts the catalog", exact=False).first.wait_for()
            expect(page.get_by_text("Contradicts the catalog", exact=False)).to_have_count(1)
            page.get_by_text("catalog: $84.50", exact=False).first.wait_for()
            page.get_by_text("Filled from the catalog", exact=False).first.wait_for()  # the adapter's fills
            expect(page.get_by_test_id("stColumn").nth(1)).to_be_attached()
            page.get_by_text("Base model", exact=True).scroll_into_view_if_needed()
            shot = tmp_path / "side-by-side.png"
            page.screenshot(path=str(shot), full_page=True)
            print(f"screenshot: {shot}")

            # 3. a verdict on the side-by-side answer: its form is the one offering the base answer (".last"
            # once matched the first turn's form while the page was re-rendering under load)
            form = page.get_by_test_id("stForm").filter(has_text="Base answer")
            form.wait_for()
            form.get_by_text("Flag", exact=True).click()
            select = form.get_by_test_id("stSelectbox")
            reason = select.locator("input")
            # the listbox renders outside the form: open it, click the option once it is listed, and wait until
            # the box shows the choice (state, not time: a fixed 10 s wait for the list failed under load)
            reason.click()
            reason.fill("Wrong fact")  # filters the list (it shows only the current choice until typed over)
            page.get_by_test_id("stSelectboxVirtualDropdown").get_by_role("option", name="Wrong fact").click()
            expect(reason).to_have_value("Wrong fact")  # chosen before the form is sent
            form.get_by_label("Note").fill("checked in the browser")
            form.get_by_role("button", name="Record verdict").click()
            page.get_by_text("Verdict recorded").first.wait_for()
            _idle(page)

            # 4. the review page lists it, and exports it
            sidebar.get_by_text("Review", exact=True).click()
            page.get_by_text("1 verdicts").wait_for()
            page.get_by_text("checked in the browser", exact=False).first.wait_for()
            with page.expect_download() as dl:
                page.get_by_role("button", name="Export JSONL").click()
            exported = Path(dl.value.path()).read_text()
            shot2 = tmp_path / "review.png"
            page.screenshot(path=str(shot2), full_page=True)
            print(f"screenshot: {shot2}")
            assert any(c["name"] == "_streamlit_xsrf" for c in context.cookies())  # XSRF protection is on
        except Exception:
            page.screenshot(path=str(tmp_path / "failure.png"), full_page=True)
            print(f"screenshot: {tmp_path / 'failure.png'}")
            raise
        finally:
            browser.close()
    [line] = [json.loads(x) for x in exported.splitlines()]
    assert line["question"] == PLANTED_QUESTION and line["verdict"] == "flag" and line["reason"] == "wrong_fact"
    assert line["note"] == "checked in the browser" and line["reviewer"] == "browser-test"
    assert line["answers"]["base"] and line["answers"]["adapter"] and line["adapter"].startswith("fernhollow@")
    assert line["product_ids"][0] == PLANTED_ID and line["index"].startswith("sample/")


def test_a_missing_browser_fails_under_ci_and_skips_elsewhere(monkeypatch):
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI=true"):
        _missing("no chromium")
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception, match="no chromium"):
        _missing("no chromium")
