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


def test_review_widget_saves_each_decision_and_resumes(tmp_path):
    import pandas as pd

    from valuelab.annotate import LexiconAnnotator
    from valuelab.data import read_jsonl_lenient

    dialogues = pd.DataFrame({"id": ["a", "b", "c"], "prompt": ["p1", "p2", "p3"],
                              "response": ["We should protect nature and equality.", "ok", "fine"]})
    suggestions = LexiconAnnotator().annotate(dialogues)
    out = tmp_path / "review.jsonl"
    r = widgets.ReviewWidget(dialogues, out, suggestions=suggestions, annotator="me")
    assert r.current == "a" and r.labels["universalism"] == suggestions.loc[0, "universalism"]
    r.toggles[5].value = 1  # security +1
    r.save()
    assert read_jsonl_lenient(out)[0]["labels"]["security"] == 1 and r.current == "b"
    r.quick.value = "-0000000+0"  # keyboard entry saves and advances
    saved = read_jsonl_lenient(out)
    assert [s["id"] for s in saved] == ["a", "b"] and saved[1]["labels"]["self-direction"] == -1
    r.quick.value = "bad"
    assert "quick entry needs 10 characters" in r.header.value and r.current == "c"
    again = widgets.ReviewWidget(dialogues, out)  # a new session resumes at c
    assert again.current == "c" and again.queue == ["c"]
    again.save()
    assert "All 1 dialogues reviewed" in again.header.value


def test_target_builder_updates_its_radar_and_table():
    b = widgets.target_builder("ideal")
    b.sliders[2].value = 1.0  # hedonism
    assert b.radar.data[0].r[2] == 1.0 and b.radar.data[0].r[0] == b.radar.data[0].r[-1]
    b.compare.value = "uk"
    assert b.radar.data[1].name == "uk" and b.radar.data[1].r[8] == pytest.approx(0.652)
    assert "<table" in b.table.value and "ideal" in b.table.value
