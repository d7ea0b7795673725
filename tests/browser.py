"""A real headless Chromium for tests of the end-user pages: Debian's `chromium`, driven by
Playwright (`make test` installs it when missing). Playwright's own browser downloads are not
used, so the tests need no network."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from playwright.sync_api import Page, sync_playwright

CHROMIUM_ARGS = [
    "--no-sandbox",  # CI runs as root, where Chromium's sandbox cannot start
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_executable() -> str:
    """The system Chromium; a clear error when it is not installed."""
    path = shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(path).exists():
        raise RuntimeError(
            "Chromium not found: install Debian's package "
            "(apt-get install --no-install-recommends chromium), as `make test` does"
        )
    return path


@contextmanager
def chromium_page(*, javascript: bool = True) -> Iterator[Page]:
    """A fresh page in a headless Chromium, closed with its browser on exit.

    `javascript=False` turns off the page's own scripts (Playwright's still run), to show
    a page works without them.
    """
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium_executable(), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield browser.new_page(java_script_enabled=javascript)
        finally:
            browser.close()
