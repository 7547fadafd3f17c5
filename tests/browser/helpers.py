"""Helpers of the browser test: the built site, a local server, Debian's Chromium."""

from __future__ import annotations

import functools
import http.server
import os
import shutil
import subprocess
import threading
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser")
# Flags asked of every launch: no GPU, no sandbox (root in CI), and no traffic of
# Chromium's own (updates, sync, field trials) that would leave the machine.
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


def site_dir() -> Path:
    """The built site: $MVK_SITE_DIR, else _build/html (built here when missing)."""
    if os.environ.get("MVK_SITE_DIR"):
        path = Path(os.environ["MVK_SITE_DIR"]).resolve()
        if not (path / "book" / "index.html").is_file():
            raise FileNotFoundError(f"MVK_SITE_DIR={path}: no book/index.html there")
        return path
    path = ROOT / "_build" / "html"
    if not (path / "book" / "index.html").is_file():
        build_site()
    return path


def build_site() -> None:
    """Render the book from the committed outputs (no execution), like `make book EXECUTE=off`."""
    build = ROOT / "_build"
    build.mkdir(exist_ok=True)
    config = (ROOT / "_config.yml").read_text()
    config = "\n".join(
        "  execute_notebooks: off" if line.startswith("  execute_notebooks:") else line
        for line in config.splitlines()
    )
    (build / "_config.browser.yml").write_text(config + "\n")
    jb = shutil.which("jupyter-book")
    if jb is None:
        raise FileNotFoundError("jupyter-book is not installed: pip install -e '.[book]'")
    subprocess.run(
        [jb, "build", str(ROOT), "-W", "-n", "--keep-going",
         "--config", str(build / "_config.browser.yml")],
        check=True, cwd=ROOT, capture_output=True,
    )


def toc_pages() -> list[str]:
    """Every page of _toc.yml (globs expanded), as site paths such as 'book/ch01_attention.html'."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    entries: list[dict] = [{"file": toc["root"]}]

    def walk(items):
        for item in items or []:
            entries.append(item)
            walk(item.get("sections"))

    for part in toc.get("parts", []):
        walk(part.get("chapters"))
    pages = []
    for entry in entries:
        if "file" in entry:
            pages.append(entry["file"])
        elif "glob" in entry:
            pages += sorted(
                str(p.relative_to(ROOT).with_suffix(""))
                for p in ROOT.glob(entry["glob"])
                if p.suffix in (".md", ".ipynb")
            )
    return [f"{page}.html" for page in pages]


def find_chromium() -> str | None:
    """Debian's Chromium, installing it with apt-get when possible; None if unavailable."""
    for path in CHROMIUM_CANDIDATES:
        if os.access(path, os.X_OK):
            return path
    apt = shutil.which("apt-get")
    if apt and os.geteuid() == 0:
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        subprocess.run([apt, "update", "-q"], env=env, capture_output=True, timeout=600)
        subprocess.run([apt, "install", "-y", "-q", "chromium"], env=env,
                       capture_output=True, timeout=900)
    for path in CHROMIUM_CANDIDATES:
        if os.access(path, os.X_OK):
            return path
    return None


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        pass


def serve(directory: Path):
    """Serve ``directory`` on 127.0.0.1 (a free port); returns (base_url, stop)."""
    handler = functools.partial(_QuietHandler, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()

    def stop():
        server.shutdown()
        server.server_close()

    return f"http://127.0.0.1:{server.server_address[1]}/", stop
