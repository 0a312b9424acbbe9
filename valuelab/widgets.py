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
    """Ten sliders (one per value, -1..+1); shows the vector, a radar against a chosen named
    target, and the vector's distance to every named target."""

    def __init__(self, start: str = "ideal"):
        self.sliders = [w.FloatSlider(value=x, min=-1, max=1, step=0.05, description=v.abbr,
                                      tooltip=str(v), continuous_update=False)
                        for v, x in zip(VALUES, target(start))]
        self.compare = w.Dropdown(options=list(TARGETS), value=start, description="compare")
        self.start = w.Dropdown(options=list(TARGETS), value=start, description="start from")
        self.out = w.Output()
        for s in self.sliders:
            s.observe(self._refresh, "value")
        self.compare.observe(self._refresh, "value")
        self.start.observe(self._reset, "value")
        super().__init__([w.HBox([self.start, self.compare]),
                          w.HBox([w.VBox(self.sliders[:5]), w.VBox(self.sliders[5:])]), self.out])
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
        from IPython.display import display

        self.out.clear_output(wait=True)
        with self.out:
            display(radar({"built": self.vector, self.compare.value: self.compare.value},
                          title="your target", reference=self.compare.value))
            display(self.distances().round(3).head(8))


def target_builder(start: str = "ideal") -> TargetBuilder:
    return TargetBuilder(start)
