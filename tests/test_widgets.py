"""The chapters' controls: live ipywidgets in a kernel, an embedded gallery of every view in the static book."""
import json
import re

import ipywidgets as w
import matplotlib
import pytest

import vaebook as vb
from vaebook import plot

matplotlib.use("agg")


def _update(calls):
    def show(a, b):
        calls.append((a, b))
        if b == "text":
            print(f"no plot for a = {a}")
            return
        fig, ax = plot.figure(figsize=(2, 1))
        ax.plot([0, a])
        plot.plt.show()
    return show


def test_live_controls_are_ipywidgets(monkeypatch):
    monkeypatch.delenv("VAEBOOK_STATIC_WIDGETS", raising=False)
    calls = []
    box = vb.widgets.explore(_update(calls), a=w.SelectionSlider(options=[1, 2, 3]), b=w.Dropdown(options=["x", "text"]))
    assert isinstance(box, w.VBox) and calls  # drawn once at once, then on every change


def test_the_static_page_carries_every_view(monkeypatch):
    monkeypatch.setenv("VAEBOOK_STATIC_WIDGETS", "1")
    calls = []
    page = vb.widgets.explore(_update(calls), a=w.SelectionSlider(options=[1, 2, 3], value=2, description="a"),
                              b=w.ToggleButtons(options=["x", "text"]))._repr_html_()
    assert sorted(calls) == [(a, b) for a in (1, 2, 3) for b in ("text", "x")]  # each view drawn once
    frames = json.loads(re.search(r"const frames = (\{.*?\});", page).group(1))
    assert len(frames) == 6 and frames["1|0"].startswith("<img") and "no plot for a = 2" in frames["1|1"]
    assert 'type="range"' in page and "<select>" in page and page.count("<option") == 2
    assert not matplotlib.pyplot.get_fignums()  # every figure closed: none left to be displayed twice
    # the view shown before any control moves is the controls' initial values (a = 2, b = "x")
    assert page.split('class="vb-view">')[1].startswith(frames["1|0"])


def test_too_many_views_are_refused_with_the_fix(monkeypatch):
    monkeypatch.setenv("VAEBOOK_STATIC_WIDGETS", "1")
    with pytest.raises(ValueError, match=r"65 views \(65\) are more than the static page carries \(64\)"):
        vb.widgets.explore(lambda a: None, a=w.Dropdown(options=list(range(65))))


@pytest.mark.parametrize("static", ["0", "1"])
def test_a_control_with_one_option_is_not_drawn_and_its_value_is_passed(monkeypatch, static):
    monkeypatch.setenv("VAEBOOK_STATIC_WIDGETS", static)
    calls = []
    shown = vb.widgets.explore(_update(calls), a=w.SelectionSlider(options=[1, 2], value=2, description="a"),
                               b=w.Dropdown(options=["x"], description="b"))
    assert calls and all(b == "x" for _, b in calls)
    if static == "1":
        page = shown._repr_html_()
        assert sorted(calls) == [(1, "x"), (2, "x")] and 'type="range"' in page and "<select>" not in page
    else:
        assert [c.description for c in shown.children[0].children] == ["a"]
