import pytest

from valuelab import plots, widgets
from valuelab.values import NAMES, ValueVectorError, basealign_distance


def test_circumplex_has_every_value():
    fig = plots.circumplex()
    shown = [t for trace in fig.data[1:] for t in trace.text]
    assert sorted(shown) == sorted(NAMES)


def test_radar_closes_the_polygon_and_validates():
    fig = plots.radar({"ideal": "ideal", "mine": [0.5] * 10}, reference="ideal")
    assert len(fig.data) == 2 and len(fig.data[0].r) == 11 and fig.data[0].r[0] == fig.data[0].r[-1]
    assert fig.data[0].line.dash == "dash"
    with pytest.raises(ValueError, match="no vectors"):
        plots.radar({})
    with pytest.raises(ValueVectorError, match="expected 10 numbers"):
        plots.radar({"bad": [1, 2]})


def test_distance_table_is_the_published_formula():
    t = plots.distance_table(["ideal", "uk"], metric="basealign")
    assert t.loc["uk", "ideal"] == pytest.approx(basealign_distance("uk", "ideal"))
    assert t.loc["ideal", "ideal"] == 0
    with pytest.raises(ValueError, match="unknown metric"):
        plots.distance_table(["ideal"], metric="manhattan")


def test_target_builder_tracks_sliders():
    b = widgets.target_builder("uk")
    assert b.vector["benevolence"] == pytest.approx(0.65, abs=0.01)
    b.sliders[4].value = 1.0  # power
    assert b.vector["power"] == 1.0
    d = b.distances()
    assert set(d.columns) == {"basealign", "l2", "cosine"} and len(d) == 19
    assert d["basealign"].is_monotonic_increasing
    assert d.loc["uk", "l2"] == pytest.approx(1.0 - (-0.2383), abs=0.03)  # only power moved
    b.start.value = "ideal"  # resets the sliders
    assert list(b.vector) == [0, 0, 0, 1, 0, 1, 0, 1, 1, 1]
