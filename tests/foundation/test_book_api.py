"""The API pages and the offline-asset configuration of the book build."""

import pkgutil
from pathlib import Path

import yaml

from mvk_tutorial.api_pages import module_names, page_text, plain_if_not_rst, write_pages
from mvk_tutorial.site_assets import ASSETS

ROOT = Path(__file__).resolve().parents[2]


def test_every_module_file_gets_a_name():
    names = set(module_names(ROOT / "mvk_tutorial"))
    # Independently: what Python's own package walker finds (it imports the packages).
    import mvk_tutorial

    expected = {"mvk_tutorial"} | {
        info.name
        for info in pkgutil.walk_packages(mvk_tutorial.__path__, prefix="mvk_tutorial.")
        if not any(part.startswith("_") for part in info.name.split("."))
    }
    assert names == expected


def test_pages_are_written_and_stale_ones_removed(tmp_path):
    pkg = tmp_path / "mvk_tutorial"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text('"""Top."""\n')
    (pkg / "sub" / "__init__.py").write_text('"""Sub."""\n')
    (pkg / "sub" / "mod.py").write_text('"""Mod."""\n')
    api = tmp_path / "book" / "api"
    api.mkdir(parents=True)
    (api / "mvk_tutorial.gone.md").write_text("old")
    (api / "index.md").write_text("kept")
    pages = write_pages(tmp_path)
    assert sorted(p.name for p in pages) == [
        "mvk_tutorial.md", "mvk_tutorial.sub.md", "mvk_tutorial.sub.mod.md"
    ]
    assert not (api / "mvk_tutorial.gone.md").exists()
    assert (api / "index.md").read_text() == "kept"
    for page in ("mvk_tutorial.sub.mod.md", "mvk_tutorial.sub.md"):
        assert ":members:" in (api / page).read_text()
        assert ":ignore-module-all:" in (api / page).read_text()  # no duplicate entries


def test_page_text_is_an_automodule_directive():
    text = page_text("mvk_tutorial.attention.sdpa")
    assert text.startswith("# `mvk_tutorial.attention.sdpa`")
    assert ".. automodule:: mvk_tutorial.attention.sdpa" in text


def test_bad_rst_docstrings_are_shown_verbatim():
    good = ["Scaled dot-product attention.", "", "Returns ``out``."]
    assert plain_if_not_rst(good) == good
    bad = ["Shapes:", "    q: (B, N, d)", "  k: (B, M, d)", "Book: ch01."]  # bad indentation
    out = plain_if_not_rst(bad)
    assert out[0] == "::" and all(line.startswith("    ") for line in out[2:] if line)
    assert plain_if_not_rst(["uses |x & y| as a set"])[0] == "::"  # undefined substitution


def test_toc_takes_the_api_pages_and_the_config_loads_offline_assets():
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    api = [c for p in toc["parts"] for c in p["chapters"] if c.get("file") == "book/api/index"]
    assert api and api[0]["sections"] == [{"glob": "book/api/mvk_tutorial*"}]
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    sphinx = config["sphinx"]
    assert {"mvk_tutorial.site_assets", "mvk_tutorial.api_pages"} <= set(sphinx["extra_extensions"])
    assert "://" not in sphinx["config"]["mathjax_path"]
    assert not [k for k in sphinx["config"]["nb_ipywidgets_js"] if "://" in k]
    # every configured file is one the extension copies
    targets = {dst for _, dst, _ in ASSETS}
    assert sphinx["config"]["mathjax_path"].split("?")[0].removeprefix("offline/") in targets
    for key in sphinx["config"]["nb_ipywidgets_js"]:
        rel = key.removeprefix("offline/")
        assert rel in targets or rel.rsplit("/", 1)[0] in targets, key
    assert config["repository"]["url"].startswith("https://")
    assert config["launch_buttons"]["colab_url"] and config["launch_buttons"]["binderhub_url"]


def test_api_targets_are_where_the_objects_are_defined():
    from mvk_tutorial.api_pages import api_targets
    from mvk_tutorial.attention import sdpa

    code = (
        "%matplotlib inline\n"
        "import mvk_tutorial\n"
        "from mvk_tutorial import checks\n"
        "from mvk_tutorial.attention import scaled_dot_product_attention as sdpa_fn\n"
        "import torch\n"
    )
    found = dict(api_targets(code))
    assert found["mvk_tutorial"] == "mvk_tutorial"
    assert found["checks"] == "mvk_tutorial.checks"
    fn = sdpa.scaled_dot_product_attention
    assert found["scaled_dot_product_attention"] == f"{fn.__module__}.{fn.__qualname__}"
    assert "torch" not in found
    assert api_targets("def broken(:\n") == []
    # a constant: the module that assigns it (not the one it was imported from)
    from mvk_tutorial.mvk import scene

    (target,) = [t for n, t in api_targets("from mvk_tutorial.mvk.labels import CLASSES")]
    assert target == "mvk_tutorial.mvk.scene" and hasattr(scene, "CLASSES")
