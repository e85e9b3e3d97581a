"""The reviewer page in a real browser: Debian's Chromium driven by Playwright against uvicorn.

`make test` installs Chromium (apt-get install chromium); without it this test fails loudly.
"""

from __future__ import annotations

import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.routing import Mount

from service.auth import KeyStore
from service.review import ReviewQueue, create_review_app
from tests.fakes import make_listing, make_verdict

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
HOSTILE = "<img src=x onerror=alert(1)>"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def served(
    tmp_path: Path, sqlite_review_queue: ReviewQueue
) -> Iterator[tuple[str, ReviewQueue, str]]:
    queue = sqlite_review_queue
    store = KeyStore(tmp_path / "keys.json")
    key = store.create_key("reviewer", "rita")
    app = Starlette(routes=[Mount("/review", create_review_app(lambda: queue, lambda: store))])
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}/review/", queue, key
    finally:
        server.should_exit = True
        thread.join(10)
        queue.close()


@pytest.mark.browser
@pytest.mark.timeout(240)
def test_reviewer_confirms_with_one_key(served: tuple[str, ReviewQueue, str]) -> None:
    if not Path(CHROMIUM).exists() or shutil.which(CHROMIUM) is None:
        pytest.fail(f"{CHROMIUM} is missing: run `make test` (it installs Debian's chromium)")
    try:
        from playwright.sync_api import ConsoleMessage, Dialog, Error, expect, sync_playwright
    except ImportError:
        pytest.fail("playwright is not installed: run `make test` (it installs the dev extras)")
    url, queue, key = served
    first, _ = queue.enqueue(
        make_listing(f"{HOSTILE} Wooden Bead Stacking Toy TB-MZWJ"), make_verdict()
    )
    second, _ = queue.enqueue(make_listing("Rainbow stacking rings LB-210"), make_verdict())
    dialogs: list[str] = []
    console_errors: list[str] = []
    artifacts = ROOT / "test-artifacts"
    artifacts.mkdir(exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})

            def on_dialog(dialog: Dialog) -> None:
                dialogs.append(dialog.message)
                dialog.dismiss()

            def on_console(message: ConsoleMessage) -> None:
                if message.type == "error":
                    console_errors.append(message.text)

            def on_page_error(error: Error) -> None:
                console_errors.append(str(error))

            page.on("dialog", on_dialog)
            page.on("console", on_console)
            page.on("pageerror", on_page_error)
            page.goto(url)
            page.fill("input[name=key]", key)
            page.press("input[name=key]", "Enter")
            # opening the page claims nothing: starting is an explicit action
            expect(page.locator("#claim")).to_be_visible()
            assert queue.counts()["claimed"] == 0
            page.click("#claim")
            title = page.locator("#listing-title-0")
            expect(title).to_contain_text(HOSTILE)
            assert page.locator("section.comparison img").count() == 0
            expect(page.locator("#cand-0 mark").first).to_be_visible()
            expect(page.locator("#count-pending")).to_have_text("1")
            page.keyboard.press("?")
            expect(page.locator("#help")).to_be_visible()
            page.keyboard.press("?")
            expect(page.locator("#help")).to_be_hidden()
            page.keyboard.press("j")
            expect(page.locator("#cand-1")).to_be_visible()
            expect(page.locator("#cand-0")).to_be_hidden()
            page.keyboard.press("k")
            expect(page.locator("#cand-0")).to_be_visible()
            page.screenshot(path=str(artifacts / "review.png"), full_page=True)
            page.keyboard.press("y")
            expect(page.locator("body")).to_have_attribute("data-item-id", str(second))
            expect(page.locator("#count-decided")).to_have_text("1")
            page.keyboard.press("j")
            page.keyboard.press("n")
            expect(page.get_by_text("The queue is empty")).to_be_visible()
        finally:
            browser.close()
    assert dialogs == [], f"a dialog fired: {dialogs}"
    assert console_errors == [], f"errors in the page (CSP violations show here): {console_errors}"
    decided = queue.get(first).decision
    assert decided is not None
    assert (decided.decision, decided.entry_id, decided.reviewer) == (
        "confirm",
        "cpsc-10917",
        "rita",
    )
    audit = [(a.from_state, a.to_state, a.actor) for a in queue.audit_log(first)]
    assert audit == [
        (None, "pending", "screener"),
        ("pending", "claimed", "rita"),
        ("claimed", "decided", "rita"),
    ]
    rejected = queue.get(second).decision
    assert rejected is not None and (rejected.decision, rejected.entry_id) == (
        "reject",
        "cpsc-10433",
    )
    assert (artifacts / "review.png").stat().st_size > 10_000
