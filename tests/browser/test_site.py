"""The built book as a reader's browser shows it, with no network but the local site.

For every page of the table of contents: no console error, no request leaves the
site, math is typeset by the bundled MathJax (no raw ``\\(`` left), every image
loads, every internal link points at a file (and anchor) that exists. Then the
embedded widgets of ch01 and ch10 render, and exercise solutions collapse and expand.
Screenshots of three pages (the start page, ch01 at its first formula, ch10 at its
widget) go to _build/screenshots/ (CI artefacts).
"""

from __future__ import annotations

import html
import importlib.util
import os
import re
from pathlib import Path
from urllib.parse import unquote, urldefrag, urlparse

import pytest
import yaml

_spec = importlib.util.spec_from_file_location(
    "browser_helpers", Path(__file__).with_name("helpers.py")
)
site = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(site)

PAGES = site.toc_pages()
SCREENSHOTS = {
    "book/index.html": "index.png",
    "book/ch01_attention.html": "ch01_attention.png",
}
WIDGET_SCREENSHOT = ("book/ch10_known_item_search.html", "ch10_widget.png")
WIDGET_PAGES = ["book/ch01_attention.html", "book/ch08_deaot.html", "book/ch10_known_item_search.html"]

# Raw TeX delimiters left in the visible text (code blocks excluded) = math not typeset.
_VISIBLE_TEXT = """() => {
  const clone = document.querySelector('main, article, body').cloneNode(true);
  clone.querySelectorAll('pre, code, script, style, mjx-container, mjx-assistive-mml')
       .forEach(e => e.remove());
  return clone.textContent;
}"""


def _wait_for_math(page) -> None:
    """Wait until the bundled MathJax (version 2) has typeset the page, if it has math."""
    if page.locator("script[src*='offline/mathjax/MathJax.js']").count() == 0:
        return
    page.wait_for_function("() => !!(window.MathJax && MathJax.Hub && MathJax.isReady)")
    page.evaluate("() => new Promise(done => MathJax.Hub.Queue(() => done(true)))")


def _ids(path: Path, cache: dict) -> set[str]:
    if path not in cache:
        text = path.read_text(errors="replace")
        cache[path] = {html.unescape(m) for m in re.findall(r'\bid="([^"]+)"', text)}
    return cache[path]


def test_toc_has_pages():
    assert len(PAGES) >= 12, PAGES
    missing = [p for p in PAGES if not (site.site_dir() / p).is_file()]
    assert not missing, f"TOC pages not in the built site: {missing}"


@pytest.mark.parametrize("path", PAGES)
def test_page(site_page, path):
    page = site_page.goto(path)
    _wait_for_math(page)
    page.wait_for_load_state("networkidle")

    # Math: each Sphinx math node became MathJax output, and no raw delimiter is left.
    math_nodes = page.locator("span.math, div.math").count()
    rendered = page.locator(".MathJax_CHTML").count()
    assert rendered >= math_nodes, f"{path}: {math_nodes} math nodes, {rendered} typeset"
    errors = page.locator(".mjx-merror, .MathJax_Error").count()
    assert errors == 0, f"{path}: {errors} formulas MathJax could not typeset"
    if math_nodes:
        # The offline copy did the typesetting, not something else on the page.
        assert page.evaluate("() => MathJax.Hub.getAllJax().length") >= math_nodes
    text = page.evaluate(_VISIBLE_TEXT)
    for raw in ("\\(", "\\)", "\\[", "\\]", "$$"):
        assert raw not in text, f"{path}: raw {raw!r} left in the text: ...{text[text.find(raw) - 60:text.find(raw) + 60]!r}..."

    # Images: all of them decoded.
    images = page.evaluate(
        "() => Array.from(document.images).map(i => [i.currentSrc || i.src, i.complete, i.naturalWidth])"
    )
    broken = [src for src, complete, width in images if not (complete and width > 0)]
    assert not broken, f"{path}: images that did not load: {broken}"

    # Internal links: the target file exists, and so does the anchor.
    root = site.site_dir()
    hrefs = page.evaluate("() => Array.from(document.querySelectorAll('a[href]')).map(a => a.href)")
    cache: dict = {}
    dead = []
    for href in hrefs:
        if not href.startswith(site_page.base_url):
            continue
        url, fragment = urldefrag(href)
        rel = unquote(urlparse(url).path).lstrip("/")
        target = root / rel
        if target.is_dir() or rel == "":
            target = target / "index.html"
        if not target.is_file():
            dead.append(href)
        elif fragment and target.suffix == ".html" and unquote(fragment) not in _ids(target, cache):
            dead.append(href)
    assert not dead, f"{path}: broken internal links: {sorted(set(dead))}"

    if path in SCREENSHOTS:
        out = site.ROOT / "_build" / "screenshots"
        out.mkdir(parents=True, exist_ok=True)
        if page.locator("div.math").count():
            page.locator("div.math").first.scroll_into_view_if_needed()
        page.screenshot(path=str(out / SCREENSHOTS[path]), full_page=False)

    assert not site_page.blocked, f"{path}: requests outside the site: {site_page.blocked}"
    assert not site_page.failed, f"{path}: failed requests: {site_page.failed}"
    assert not site_page.errors, f"{path}: console errors: {site_page.errors}"


@pytest.mark.parametrize("path", WIDGET_PAGES)
def test_widgets_render(site_page, path):
    page = site_page.goto(path)
    views = page.locator('script[type="application/vnd.jupyter.widget-view+json"]').count()
    assert views >= 1, f"{path}: the page embeds no widget view"
    # The HTML manager replaces each view script by a rendered widget tree.
    page.wait_for_function(
        "n => document.querySelectorAll('.jupyter-widgets.lm-Widget').length >= n", arg=views
    )
    controls = page.locator(
        ".jupyter-widgets.widget-slider, .jupyter-widgets.widget-dropdown, "
        ".jupyter-widgets.widget-text, .jupyter-widgets.widget-toggle-buttons, "
        ".jupyter-widgets.widget-button, .jupyter-widgets.widget-int-text"
    )
    assert controls.count() >= 1, f"{path}: no rendered control"
    if path == WIDGET_SCREENSHOT[0]:
        out = site.ROOT / "_build" / "screenshots"
        out.mkdir(parents=True, exist_ok=True)
        controls.first.scroll_into_view_if_needed()
        page.screenshot(path=str(out / WIDGET_SCREENSHOT[1]), full_page=False)
    box = controls.first.bounding_box()
    assert box and box["width"] > 0 and box["height"] > 0, f"{path}: control has no size"
    assert not site_page.errors, f"{path}: console errors: {site_page.errors}"
    assert not site_page.blocked, f"{path}: requests outside the site: {site_page.blocked}"


SOLUTION_PAGES = [
    p for p in PAGES
    if 'class="solution dropdown' in (site.site_dir() / p).read_text(errors="replace")
]


def test_some_pages_have_solutions():
    assert len(SOLUTION_PAGES) >= 3, SOLUTION_PAGES


@pytest.mark.parametrize("path", SOLUTION_PAGES)
def test_solutions_collapse_and_expand(site_page, path):
    page = site_page.goto(path)
    solution = page.locator("div.solution.dropdown").first
    button = solution.locator("button.toggle-button")
    page.wait_for_function("() => document.querySelector('div.solution.dropdown button.toggle-button')")
    body = solution.locator("section, div.solution-content, p").last
    assert "toggle-hidden" in (solution.get_attribute("class") or ""), f"{path}: solution not collapsed"
    assert not body.is_visible(), f"{path}: a collapsed solution's text is visible"
    button.click()
    page.wait_for_function(
        "() => !document.querySelector('div.solution.dropdown').classList.contains('toggle-hidden')"
    )
    assert body.is_visible(), f"{path}: the solution did not expand"
    button.click()
    page.wait_for_function(
        "() => document.querySelector('div.solution.dropdown').classList.contains('toggle-hidden')"
    )
    assert not body.is_visible(), f"{path}: the solution did not collapse again"
    assert not site_page.errors, f"{path}: console errors: {site_page.errors}"


def test_no_page_loads_anything_from_another_host():
    """Static check of every built page: scripts, styles and images are all local."""
    root = site.site_dir()
    remote = re.compile(r'<(?:script|img|link|iframe)\b[^>]*\b(?:src|href)="(?:https?:)?//[^"]+"', re.I)
    offenders = {}
    for page in root.rglob("*.html"):
        for tag in remote.findall(page.read_text(errors="replace")):
            if tag.lower().startswith("<link") and 'rel="stylesheet"' not in tag and "preload" not in tag:
                continue  # <link rel="canonical"> and the like load nothing
            offenders.setdefault(str(page.relative_to(root)), []).append(tag[:120])
    assert not offenders, f"pages that load from other hosts: {offenders}"


CHAPTERS = [p for p in PAGES if re.match(r"book/ch\d\d_", p)]


@pytest.mark.parametrize("path", CHAPTERS)
def test_chapter_links_the_package_api_it_imports(path):
    """Every mvk_tutorial name a chapter's code imports links to its API entry."""
    html_text = (site.site_dir() / path).read_text(errors="replace")
    imports = re.search(r"(?:from|import)(?:\s|<[^>]+>)+mvk_tutorial", html_text)
    rubric = '<p class="rubric">Package API used in this chapter</p>'
    if not imports:
        assert rubric not in html_text
        return
    block = html_text.split(rubric, 1)
    assert len(block) == 2, f"{path}: imports mvk_tutorial but has no API list"
    para = block[1].split("</p>", 1)[0]
    names = re.findall(r'<span class="pre">([^<]+)</span>', para)
    links = re.findall(r'<a class="reference internal" href="(api/mvk_tutorial[^"#]*\.html)#', para)
    linked = re.findall(r'<a class="reference internal"[^>]*><code[^>]*><span class="pre">([^<]+)<', para)
    assert names and linked == names, f"{path}: unlinked API names {sorted(set(names) - set(linked))}"
    for href in links:
        assert (site.site_dir() / "book" / href).is_file(), f"{path}: {href} missing"


# Names used in the code cells link to the API pages (sphinx-codeautolink): checked
# statically on every chapter, and by following one link in the browser.
_CODE_LINK = re.compile(r'<a class="sphinx-codeautolink-a" href="([^"]+)"')


@pytest.mark.parametrize("path", CHAPTERS)
def test_code_cells_link_package_names_to_their_api_entries(path):
    page = site.site_dir() / path
    html_text = page.read_text(errors="replace")
    if not re.search(r"(?:from|import)(?:\s|<[^>]+>)+mvk_tutorial", html_text):
        return
    hrefs = _CODE_LINK.findall(html_text)
    api = [h for h in hrefs if "api/mvk_tutorial" in h]
    assert api, f"{path}: imports mvk_tutorial, but no name in its code cells links to the API pages"
    cache: dict = {}
    dead = []
    for href in set(api):
        url, fragment = urldefrag(html.unescape(href))
        target = (page.parent / unquote(url)).resolve()
        if not target.is_file() or (fragment and unquote(fragment) not in _ids(target, cache)):
            dead.append(href)
    assert not dead, f"{path}: code links to API entries that do not exist: {sorted(dead)}"


def test_ch01_code_links_reach_the_functions_it_uses():
    html_text = (site.site_dir() / "book/ch01_attention.html").read_text(errors="replace")
    anchors = {urldefrag(h)[1] for h in _CODE_LINK.findall(html_text)}
    for name in ("mvk_tutorial.attention.sdpa.scaled_dot_product_attention",
                 "mvk_tutorial.attention.multihead.MultiHeadAttention",
                 "mvk_tutorial.checks.attention.sdpa",
                 "mvk_tutorial.utils.scale.scaled"):
        assert name in anchors, f"ch01: no code-cell link to {name}"


def test_following_a_code_link_opens_the_api_entry(site_page):
    page = site_page.goto("book/ch01_attention.html")
    link = page.locator(
        'a.sphinx-codeautolink-a[href*="#mvk_tutorial.attention.sdpa.scaled_dot_product_attention"]'
    ).first
    link.scroll_into_view_if_needed()
    link.click()
    page.wait_for_load_state("load")
    assert "api/mvk_tutorial.attention.sdpa.html" in page.url, page.url
    entry = page.locator('[id="mvk_tutorial.attention.sdpa.scaled_dot_product_attention"]')
    assert entry.count() == 1 and entry.is_visible()
    assert not site_page.errors, f"console errors: {site_page.errors}"
    assert not site_page.blocked, f"requests outside the site: {site_page.blocked}"


def _repository() -> tuple[str, str]:
    """The repository and branch the site was built for (MVK_REPO_URL, else _config.yml)."""
    config = yaml.safe_load((site.ROOT / "_config.yml").read_text())["repository"]
    url = os.environ.get("MVK_REPO_URL") or config["url"]
    branch = os.environ.get("MVK_REPO_BRANCH") or config["branch"]
    return url, branch


@pytest.mark.parametrize("path", CHAPTERS)
def test_launch_buttons_open_this_notebook_from_the_repository(path):
    url, branch = _repository()
    slug = urlparse(url).path.strip("/").removesuffix(".git")  # owner/name
    notebook = path.removesuffix(".html") + ".ipynb"
    html_text = html.unescape((site.site_dir() / path).read_text(errors="replace"))
    binder = f"https://mybinder.org/v2/gh/{slug}/{branch}?urlpath=lab/tree/{notebook}"
    colab = f"https://colab.research.google.com/github/{slug}/blob/{branch}/{notebook}"
    assert binder in html_text, f"{path}: no Binder button opening {binder}"
    assert colab in html_text, f"{path}: no Colab button opening {colab}"
