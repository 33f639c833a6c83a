"""The built pages work from disk with no network: a Sphinx extension of the book (``_config.yml``,
``sphinx: local_extensions``).

- **MathJax** is served with the book. ``make setup`` installs the npm package ``mathjax`` (``package.json``) into
  ``node_modules``; this extension copies the files MathJax loads into ``_build/html/_static/mathjax``, where
  ``mathjax_path`` (``_config.yml``) points. A build without them stops at once instead of publishing raw TeX.
- **Search shows a summary offline.** Sphinx's search page fetches each hit's page to quote it, and a browser
  refuses ``fetch`` of a ``file://`` page. Each page's text is written into ``_static/search-texts.js``, which
  the search page reads instead when it is opened from disk (``_static/offline-search.js``); over http (GitHub
  Pages) search is Sphinx's own.
"""
from __future__ import annotations

import html
import json
import re
import shutil
from pathlib import Path

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.errors import ConfigError

# What tex-mml-chtml.js loads at run time: TeX extensions (autoload), its fonts, and the menu's accessibility parts.
MATHJAX_PARTS = ("input", "output/chtml", "ui", "a11y", "sre")
SEARCH_TEXTS = "search-texts.js"
_PREFIX = "window.OFFLINE_SEARCH_TEXTS = "


def _served_mathjax(app: Sphinx) -> tuple[Path, Path] | None:
    """(the npm package's es5 folder, the entry script under it), or None where MathJax comes from a URL."""
    if app.builder.format != "html" or "://" in app.config.mathjax_path:
        return None
    path = Path(app.config.mathjax_path)
    if path.parts[0] != "mathjax":
        raise ConfigError(f"mathjax_path {path}: the MathJax served with the book lies under mathjax/")
    return Path(app.srcdir, app.config.offline_mathjax_dir), path.relative_to("mathjax")


def check_mathjax(app: Sphinx) -> None:
    """Fail before anything is executed or read when the book would load a MathJax that is not there."""
    if (served := _served_mathjax(app)) and not (served[0] / served[1]).is_file():
        raise ConfigError(f"MathJax is served with the book but {served[0] / served[1]} is missing: "
                          "run `make setup` (it runs npm ci).")


def copy_mathjax(app: Sphinx, exception: Exception | None) -> None:
    if exception is not None or not (served := _served_mathjax(app)):
        return
    (source, entry), target = served, Path(app.outdir, "_static", "mathjax")
    target.mkdir(parents=True, exist_ok=True)
    shutil.copy2(source / entry, target / entry)
    shutil.copy2(source.parent / "LICENSE", target / "LICENSE")
    for part in MATHJAX_PARTS:
        shutil.copytree(source / part, target / part, dirs_exist_ok=True)


_BLOCKS = (nodes.paragraph, nodes.title, nodes.literal_block, nodes.math_block, nodes.caption, nodes.entry,
           nodes.term, nodes.rubric)


def _text(node: nodes.Node) -> str:
    """A page as its text, its sections kept (the search page quotes the section a hit's anchor names)."""
    if isinstance(node, nodes.raw):  # HTML outputs (tables): their text, as Sphinx's own index strips them
        if "html" not in node.get("format", "").split():
            return ""
        text = re.sub(r"<(style|script)\b.*?</\1>|<[^>]+>", " ", node.astext(), flags=re.S | re.I)
        return html.escape(" ".join(text.split()), quote=False) + " "
    if isinstance(node, (nodes.image, nodes.comment)):
        return ""
    if isinstance(node, nodes.Text):
        return html.escape(node.astext(), quote=False)
    inner = "".join(_text(child) for child in node.children)
    if isinstance(node, nodes.section) and node["ids"]:
        return f'<section id="{html.escape(node["ids"][0])}">{inner}</section>'
    return inner + " " if isinstance(node, _BLOCKS) else inner


def add_static(app: Sphinx, config) -> None:
    config.html_static_path.append(str(Path(__file__).parent / "static"))  # offline-search.js


def start_search_texts(app: Sphinx) -> None:
    app.builder.offline_search_texts = {}


def collect_search_text(app: Sphinx, pagename: str, templatename: str, context: dict, doctree) -> None:
    if doctree is not None:
        app.builder.offline_search_texts[pagename] = " ".join(_text(doctree).split())
    if pagename == "search":
        app.add_js_file("offline-search.js")


def write_search_texts(app: Sphinx, exception: Exception | None) -> None:
    """Writes ``_static/search-texts.js``; an incremental build writes only some pages, so the rest are kept."""
    if exception is not None or app.builder.format != "html":
        return
    path = Path(app.outdir, "_static", SEARCH_TEXTS)
    texts = json.loads(path.read_text(encoding="utf-8")[len(_PREFIX):-2]) if path.exists() else {}
    texts = {page: text for page, text in texts.items() if page in app.env.found_docs}
    texts.update(app.builder.offline_search_texts)
    path.write_text(_PREFIX + json.dumps(texts, ensure_ascii=False, sort_keys=True) + ";\n", encoding="utf-8")


def setup(app: Sphinx) -> dict:
    app.add_config_value("offline_mathjax_dir", "node_modules/mathjax/es5", "html")
    app.connect("config-inited", add_static)
    app.connect("builder-inited", check_mathjax)
    app.connect("builder-inited", start_search_texts)
    app.connect("html-page-context", collect_search_text)
    app.connect("build-finished", copy_mathjax)
    app.connect("build-finished", write_search_texts)
    return {"parallel_read_safe": True, "parallel_write_safe": False}
