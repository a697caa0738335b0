"""Debian's ``chromium`` driven by playwright, for the report page tests.

The page must load with no console error and no network request (only its own file and
data: URLs); :func:`open_page` records both, plus any dialog (which it dismisses).
"""

from __future__ import annotations

import os
import shutil
from contextlib import contextmanager
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def require_chromium() -> None:
    if not Path(CHROMIUM).exists():
        msg = "Debian's chromium is not installed: apt-get install -y chromium (make browser)"
        if os.environ.get("CI"):
            pytest.fail(msg)
        pytest.skip(msg)


@contextmanager
def browser(profile_dir: Path):
    """A headless Chromium context; yields ``new_page(url) -> (page, events)``."""
    from playwright.sync_api import sync_playwright

    require_chromium()
    with sync_playwright() as pw:
        ctx = pw.chromium.launch_persistent_context(
            str(profile_dir), executable_path=CHROMIUM, args=ARGS, headless=True,
            viewport={"width": 1300, "height": 1000})

        def new_page(url: str):
            page = ctx.new_page()
            events = {"requests": [], "console": [], "dialogs": []}
            page.on("request", lambda r: events["requests"].append(r.url))
            page.on("console", lambda m: events["console"].append((m.type, m.text)))
            page.on("pageerror", lambda e: events["console"].append(("pageerror", str(e))))
            page.on("dialog", lambda d: (events["dialogs"].append(d.message), d.dismiss()))
            page.goto(url)
            page.wait_for_load_state("load")
            page.wait_for_timeout(200)
            return page, events

        try:
            yield new_page
        finally:
            ctx.close()


def problems(events: dict, page_path: Path) -> tuple[list, list]:
    """(console errors and warnings, requests to anything but the page itself and data: URLs)."""
    errors = [c for c in events["console"] if c[0] in ("error", "pageerror", "warning")]
    others = [u for u in events["requests"] if u.split("#")[0] != page_path.as_uri() and not u.startswith("data:")]
    return errors, others
