"""Interactive controls for the chapters, live in Jupyter and Colab and working in the static book.

:func:`explore` takes an ``update(**values)`` that draws one view of a precomputed sweep, and ipywidgets
controls (sliders, dropdowns, toggle buttons) that choose the values. In a kernel it returns the live
ipywidgets box: ``update`` runs whenever a control moves. In the book build (``$VAEBOOK_STATIC_WIDGETS=1``,
set by ``make book``) it draws *every* view once, as a PNG, and returns an HTML control over them with a few
lines of JavaScript, embedded in the page: it needs no kernel, no widget manager and no network, so it works
when ``_build/html`` is opened from disk. The same ``update`` and the same controls serve both.

Used in: every chapter's "try it" section.
"""
from __future__ import annotations

import base64
import contextlib
import functools
import html
import io
import itertools
import json
import uuid
from typing import Callable

from . import settings

__all__ = ["explore", "static_mode", "gallery", "MAX_FRAMES"]

MAX_FRAMES = 64  # views drawn for the static page; a sweep with more must be cut to the views that matter


def static_mode() -> bool:
    """Whether controls are drawn for the static book (the run's settings: ``$VAEBOOK_STATIC_WIDGETS=1``) rather
    than live."""
    return settings.current().static_widgets


def explore(update: Callable[..., None], **controls):
    """Call ``update(**values)`` now and whenever a control changes (live), or draw every view (static book).

    ``controls`` maps ``update``'s parameter names to ipywidgets with options (``SelectionSlider``,
    ``Dropdown``, ``ToggleButtons``, …). Precompute the expensive part so that ``update`` runs in about a second.
    A control with a single option offers no choice (a sweep the profile cut to one value): it is not drawn, and
    ``update`` gets its value. Returns what to display as the cell's last value.
    """
    fixed = {name: c.value for name, c in controls.items() if len(getattr(c, "options", ())) == 1}
    if fixed:
        update = functools.partial(update, **fixed)
        controls = {name: c for name, c in controls.items() if name not in fixed}
    if static_mode():
        return gallery(update, **controls)
    import ipywidgets as w

    out = w.interactive_output(update, controls)
    return w.VBox([w.HBox(list(controls.values())), out])


def _options(name: str, control) -> tuple[list, object]:
    options = getattr(control, "options", None)
    if not options:
        raise TypeError(f"explore: the control {name!r} ({type(control).__name__}) has no options; use a "
                        f"SelectionSlider, Dropdown or ToggleButtons over the precomputed values")
    values = [o[1] if isinstance(o, tuple) else o for o in options]
    labels = [str(o[0]) if isinstance(o, tuple) else str(o) for o in options]
    return list(zip(labels, values)), control.value


class _Gallery:
    """Every view of a sweep as embedded HTML, with a control per parameter (rendered by Jupyter and the book)."""

    def __init__(self, html_text: str):
        self.html = html_text

    def _repr_html_(self) -> str:
        return self.html


def gallery(update: Callable[..., None], **controls) -> _Gallery:
    """Draw ``update(**values)`` for every combination of the controls' options, as PNGs (or printed text),
    and return an HTML control that shows one at a time; see :func:`explore`."""
    import matplotlib.pyplot as plt

    opts = {name: _options(name, c) for name, c in controls.items()}
    current = {name: next((i for i, (_, v) in enumerate(choices) if v == value), 0)  # the controls' initial values
               for name, (choices, value) in opts.items()}
    combos = list(itertools.product(*[range(len(o[0])) for o in opts.values()]))
    if len(combos) > MAX_FRAMES:
        raise ValueError(f"explore: {len(combos)} views ({' × '.join(str(len(o[0])) for o in opts.values())}) are more "
                         f"than the static page carries ({MAX_FRAMES}); offer fewer options")
    frames = {}
    show = plt.show
    for combo in combos:
        values = {name: o[0][i][1] for (name, o), i in zip(opts.items(), combo)}
        printed = io.StringIO()
        plt.show = lambda *a, **k: None  # the figure is kept, not displayed
        try:
            with contextlib.redirect_stdout(printed):
                update(**values)
        finally:
            plt.show = show
        parts = []
        for num in plt.get_fignums():
            fig = plt.figure(num)
            buf = io.BytesIO()
            fig.savefig(buf, format="png", dpi=72)
            plt.close(fig)
            alt = html.escape(", ".join(f"{n} = {v}" for n, v in values.items()), quote=True)
            parts.append(f'<img alt="{alt}" src="data:image/png;base64,{base64.b64encode(buf.getvalue()).decode()}">')
        if printed.getvalue():
            parts.append(f"<pre>{html.escape(printed.getvalue())}</pre>")
        frames["|".join(map(str, combo))] = "".join(parts)
    uid = f"vb-explore-{uuid.uuid4().hex[:8]}"
    inputs = []
    for name, (choices, _) in opts.items():
        label = html.escape(getattr(controls[name], "description", "") or name)
        names = html.escape(json.dumps([c for c, _ in choices]), quote=True)
        if type(controls[name]).__name__.endswith("Slider"):
            inputs.append(f'<label>{label} <input type="range" min="0" max="{len(choices) - 1}" step="1" '
                          f'value="{current[name]}" data-labels="{names}"> <output>{html.escape(choices[current[name]][0])}'
                          f'</output></label>')
        else:
            options = "".join(f'<option value="{i}"{" selected" if i == current[name] else ""}>{html.escape(c)}</option>'
                              for i, (c, _) in enumerate(choices))
            inputs.append(f"<label>{label} <select>{options}</select></label>")
    start = "|".join(str(i) for i in current.values())
    script = f"""<script>
(function () {{
  const root = document.getElementById("{uid}");
  const frames = {json.dumps(frames)};
  const inputs = Array.from(root.querySelectorAll("input, select"));
  function draw() {{
    inputs.forEach(function (el) {{
      const out = el.parentElement.querySelector("output");
      if (out) out.textContent = JSON.parse(el.dataset.labels)[el.value];
    }});
    root.querySelector(".vb-view").innerHTML = frames[inputs.map(function (el) {{ return el.value; }}).join("|")];
  }}
  inputs.forEach(function (el) {{ el.addEventListener("input", draw); el.addEventListener("change", draw); }});
}})();
</script>"""
    body = (f'<div class="vb-explore" id="{uid}"><div class="vb-controls" style="display:flex;gap:1.5em;flex-wrap:wrap">'
            f'{"".join(inputs)}</div><div class="vb-view">{frames[start]}</div></div>{script}')
    return _Gallery(body)
