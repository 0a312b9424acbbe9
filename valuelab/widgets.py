"""ipywidgets for the notebooks.

    >>> from valuelab.widgets import target_builder
    >>> builder = target_builder()      # sliders per value, live radar and distances
    >>> builder.vector                  # the ValueVector built so far
"""
from __future__ import annotations

import ipywidgets as w
import pandas as pd

from valuelab.plots import DISTANCES, radar
from valuelab.values import TARGETS, VALUES, ValueVector, target


class TargetBuilder(w.VBox):
    """Ten sliders (one per value, -1..+1); shows the vector as a radar against a chosen named
    target, and the vector's distance to every named target. (Figures update in place — a
    FigureWidget and an HTML table — rather than re-rendering an Output area.)"""

    def __init__(self, start: str = "ideal"):
        import plotly.graph_objects as go

        self.sliders = [w.FloatSlider(value=x, min=-1, max=1, step=0.05, description=v.abbr,
                                      tooltip=str(v), continuous_update=False)
                        for v, x in zip(VALUES, target(start))]
        self.compare = w.Dropdown(options=list(TARGETS), value=start, description="compare")
        self.start = w.Dropdown(options=list(TARGETS), value=start, description="start from")
        self.radar = go.FigureWidget(radar({"built": self.vector, start: start}, title="your target",
                                           reference=start))
        self.table = w.HTML()
        for s in self.sliders:
            s.observe(self._refresh, "value")
        self.compare.observe(self._refresh, "value")
        self.start.observe(self._reset, "value")
        super().__init__([w.HBox([self.start, self.compare]),
                          w.HBox([w.VBox(self.sliders[:5]), w.VBox(self.sliders[5:])]),
                          w.HBox([self.radar, self.table])])
        self._refresh()

    @property
    def vector(self) -> ValueVector:
        return ValueVector([s.value for s in self.sliders])

    def distances(self) -> pd.DataFrame:
        """Distance of the built vector to every named target, by each metric."""
        v = self.vector
        return pd.DataFrame({m: {n: f(v, t) for n, t in TARGETS.items()} for m, f in DISTANCES.items()}
                            ).sort_values("basealign")

    def _reset(self, change=None):
        for s, x in zip(self.sliders, target(self.start.value)):
            s.value = x

    def _refresh(self, change=None):
        built, other = list(self.vector), list(target(self.compare.value))
        with self.radar.batch_update():
            self.radar.data[0].r = built + built[:1]
            self.radar.data[1].r = other + other[:1]
            self.radar.data[1].name = self.compare.value
        self.table.value = self.distances().round(3).head(8).to_html()


def target_builder(start: str = "ideal") -> TargetBuilder:
    return TargetBuilder(start)


class ReviewWidget(w.VBox):
    """People decide labels: one dialogue at a time, ten three-way toggles prefilled from any
    annotator's suggestion; every decision is appended to ``out`` (JSONL) at once, and a new
    widget on the same file resumes after the last saved dialogue.

    Keyboard: Tab through the toggles, or type ten characters in the quick-entry box — one per
    value in FULCRA order, ``+`` / ``0`` / ``-`` — and press Enter to save and move on.

        >>> review = ReviewWidget(dialogues, "runs/review.jsonl", suggestions=lexicon_labels)
    """

    CODES = {"+": 1, "0": 0, "-": -1}

    def __init__(self, dialogues: pd.DataFrame, out, suggestions: pd.DataFrame | None = None,
                 annotator: str = "reviewer"):
        from pathlib import Path

        from valuelab.data import read_jsonl_lenient

        self.out, self.annotator = Path(out), annotator
        self.dialogues = dialogues.set_index("id", drop=False)
        self.suggestions = suggestions.set_index("id") if suggestions is not None else None
        saved = {r["id"] for r in read_jsonl_lenient(self.out)}
        self.queue = [i for i in dialogues["id"] if i not in saved]
        self.position = 0
        self.header, self.text = w.HTML(), w.HTML()
        self.toggles = [w.ToggleButtons(options=[("−1", -1), ("0", 0), ("+1", 1)], value=0,
                                        description=v.abbr, tooltips=[f"violates {v}", "no connection",
                                                                      f"upholds {v}"],
                                        style={"button_width": "48px"}) for v in VALUES]
        self.quick = w.Text(placeholder="e.g. 00000+0++0 then Enter", description="quick",
                            continuous_update=False)
        self.quick.observe(self._on_quick, "value")
        self.save_button = w.Button(description="Save & next", button_style="success")
        self.save_button.on_click(lambda _: self.save())
        self.skip_button = w.Button(description="Skip")
        self.skip_button.on_click(lambda _: self._advance())
        super().__init__([self.header, self.text, w.HBox([w.VBox(self.toggles[:5]), w.VBox(self.toggles[5:])]),
                          self.quick, w.HBox([self.save_button, self.skip_button])])
        self._show()

    @property
    def current(self) -> str | None:
        return self.queue[self.position] if self.position < len(self.queue) else None

    @property
    def labels(self) -> dict[str, int]:
        return {str(v): t.value for v, t in zip(VALUES, self.toggles)}

    def set_labels(self, code: str) -> None:
        """Set the toggles from ten characters of ``+``, ``0``, ``-`` (FULCRA order)."""
        code = code.strip()
        if len(code) != len(VALUES) or set(code) - set(self.CODES):
            raise ValueError(f"quick entry needs 10 characters of + 0 -, got {code!r}")
        for t, c in zip(self.toggles, code):
            t.value = self.CODES[c]

    def save(self) -> None:
        """Append the current decision to the output file, then show the next dialogue."""
        from valuelab.data import append_jsonl

        if self.current is None:
            return
        append_jsonl(self.out, {"id": self.current, "labels": self.labels, "items": [],
                                "annotator": self.annotator})
        self._advance()

    def _on_quick(self, change):
        if not change["new"]:
            return
        try:
            self.set_labels(change["new"])
        except ValueError as e:
            self.header.value = f"<b style='color:#b00'>{e}</b>"
            return
        self.quick.value = ""
        self.save()

    def _advance(self):
        self.position += 1
        self._show()

    def _show(self):
        import html

        i = self.current
        if i is None:
            self.header.value = f"<b>All {len(self.queue)} dialogues reviewed.</b> Saved in {self.out}."
            self.text.value = ""
            return
        row = self.dialogues.loc[i]
        self.header.value = f"<b>{self.position + 1} / {len(self.queue)}</b> · <code>{html.escape(i)}</code>"
        self.text.value = (f"<p><b>Human:</b> {html.escape(row['prompt'])}</p>"
                           f"<p><b>Assistant:</b> {html.escape(row['response'])}</p>")
        suggested = self.suggestions.loc[i] if self.suggestions is not None and i in self.suggestions.index else None
        for v, t in zip(VALUES, self.toggles):
            t.value = int(suggested[v]) if suggested is not None else 0


class MapExplorer(w.VBox):
    """Linked exploration: select points on the map (box or lasso) and the table below fills
    with the selected dialogues, and the radar shows their mean vector against a target."""

    def __init__(self, df: pd.DataFrame, target_name: str = "ideal", max_rows: int = 20):
        import plotly.graph_objects as go

        from valuelab.plots import radar, value_map

        self.df, self.max_rows = df.reset_index(drop=True), max_rows
        self.map = go.FigureWidget(value_map(self.df))
        self.map.update_layout(dragmode="lasso")
        self.target = w.Dropdown(options=list(TARGETS), value=target_name, description="target")
        self.radar = go.FigureWidget(radar({"selection": [0.0] * 10, target_name: target_name},
                                           title="mean vector of the selection", reference=target_name))
        self.count = w.HTML("Select points on the map with the lasso or box tool.")
        self.table = w.HTML()
        self.selected: list[int] = []
        for trace in self.map.data:
            trace.on_selection(self._on_select)
        self.target.observe(lambda _: self._refresh(), "value")
        super().__init__([self.map, w.HBox([self.radar, w.VBox([self.target, self.count])]), self.table])

    def _on_select(self, trace, points, selector):
        # plotly calls this once per trace (one per safety x risk group); customdata[0] is the row
        mine = {int(c[0]) for c in trace.customdata}
        rows = [int(trace.customdata[i][0]) for i in points.point_inds]
        self.select([r for r in self.selected if r not in mine] + rows)

    def select(self, rows: list[int]) -> None:
        """Select dialogues by row number (what a lasso on the map does)."""
        self.selected = sorted(set(rows))
        self._refresh()

    def _refresh(self):
        import numpy as np

        from valuelab.values import NAMES

        sel = self.df.iloc[self.selected]
        self.count.value = f"<b>{len(sel)}</b> dialogues selected"
        mean = sel[list(NAMES)].to_numpy(float).mean(0) if len(sel) else np.zeros(10)
        with self.radar.batch_update():
            self.radar.data[0].r = list(mean) + [mean[0]]
            t = TARGETS[self.target.value].array
            self.radar.data[1].r = list(t) + [t[0]]
            self.radar.data[1].name = self.target.value
        cols = ["prompt", "response", "safety", "risk"]
        self.table.value = sel[cols].head(self.max_rows).to_html(index=False, classes="selection") if len(sel) else ""
