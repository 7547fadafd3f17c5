"""Fixtures of the browser test: the served site and one headless Chromium.

Chromium is Debian's package (``/usr/bin/chromium``), driven by Playwright's Python
client through ``executable_path``; no browser is ever downloaded at run time. When it
is missing, the fixture installs it with apt-get (as root); when that is impossible the
tests are skipped with the reason, except under CI (CI=true), where they fail.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest

def load_helpers():
    """tests/browser/helpers.py as a module (the tests run with --import-mode=importlib)."""
    spec = importlib.util.spec_from_file_location(
        "browser_helpers", Path(__file__).with_name("helpers.py")
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


site = load_helpers()


def _unavailable(reason: str):
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"browser test cannot run under CI: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def base_url():
    url, stop = site.serve(site.site_dir())
    yield url
    stop()


@pytest.fixture(scope="session")
def browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the playwright Python package is not installed (pip install playwright)")
    executable = site.find_chromium()
    if executable is None:
        _unavailable("no Chromium at /usr/bin/chromium and apt-get could not install it")
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=executable, headless=True, args=site.CHROMIUM_FLAGS
        )
        yield browser
        browser.close()


class PageLog:
    """A page whose console errors, page errors and blocked requests are recorded."""

    def __init__(self, page, base_url):
        self.page, self.base_url = page, base_url
        self.errors: list[str] = []
        self.blocked: list[str] = []
        self.failed: list[str] = []
        page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        page.on("pageerror", lambda e: self.errors.append(f"page error: {e}"))
        page.on(
            "response",
            lambda r: r.status >= 400 and self.failed.append(f"{r.status} {r.url}"),
        )

    def goto(self, path: str):
        self.page.goto(self.base_url + path, wait_until="networkidle")
        return self.page


@pytest.fixture()
def site_page(browser, base_url):
    """A fresh page in a context where every request outside the local site is aborted."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    log = None

    def route(r):
        if r.request.url.startswith(base_url) or r.request.url.startswith("data:"):
            r.continue_()
        else:
            log.blocked.append(r.request.url)
            r.abort()

    context.route("**/*", route)
    log = PageLog(context.new_page(), base_url)
    yield log
    context.close()
