"""Figures numbered by chapter: "Fig. 3.2" is the second figure of chapter 3.

Sphinx numbers figures across the whole book (chapter 3 started at Fig. 13), and those numbers collided with the
papers' figure numbers that the chapters cite ("Fig. 15" meant two things on one page). This renumbers each page's
figures from 1 after Sphinx has numbered them, prefixed with the chapter's number where its file name starts with
one (``03_mixture_priors`` → 3.1, 3.2, …); other pages get 1, 2, … Numbered tables and code blocks, if any, are
numbered the same way.
"""
from __future__ import annotations

import re

from sphinx.application import Sphinx
from sphinx.environment import BuildEnvironment


def number_by_chapter(app: Sphinx, env: BuildEnvironment) -> list[str]:
    changed = []
    for docname, by_type in env.toc_fignumbers.items():
        chapter = re.match(r"(\d+)_", docname.rsplit("/", 1)[-1])
        prefix = (int(chapter.group(1)),) if chapter else ()
        for figtype, numbers in by_type.items():
            order = sorted(numbers, key=lambda figure_id: numbers[figure_id])
            renumbered = {figure_id: prefix + (i + 1,) for i, figure_id in enumerate(order)}
            if renumbered != numbers:
                by_type[figtype] = renumbered
                changed.append(docname)
    return sorted(set(changed))


def setup(app: Sphinx) -> dict:
    app.connect("env-get-updated", number_by_chapter, priority=900)  # after Sphinx's own numbering (priority 500)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
