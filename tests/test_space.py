import numpy as np
import pandas as pd
import pytest

from valuelab import space
from valuelab.values import NAMES


def _toy(n=120, seed=0):
    """Safe refusals (security/conformity +1), unsafe compliance (-1), and neutral chatter."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        v = dict.fromkeys(NAMES, 0)
        kind = i % 3
        if kind == 0:
            v.update(security=1, conformity=1)
        elif kind == 1:
            v.update(security=-1, conformity=-1 if rng.random() < 0.8 else 0)
        else:
            v.update(hedonism=1 if rng.random() < 0.5 else 0)
        cats = [["privacy violation"], ["hate speech, offensive language"], []][kind]
        rows.append({"prompt": f"p{i}", "response": f"r{i}", "harm_categories": cats, "family": "x", **v})
    return pd.DataFrame(rows)


def test_frame_safety_rule_and_risk_groups():
    f = space.frame(_toy(6))
    assert f["safety"].tolist()[:3] == ["safe", "unsafe", "neutral"]
    assert f["risk"].tolist()[:3] == ["privacy violation", "bias & toxicity", "no risk"]
    assert space.risk_group([], "workplace-manipulation") == "workplace manipulation (held out)"
    assert set(space.GROUP_OF) == set(__import__("valuelab.data", fromlist=["x"]).HARM_CATEGORIES)


def test_fit_map_is_cached_and_transforms(tmp_path, monkeypatch):
    monkeypatch.setenv("VALUELAB_CACHE", str(tmp_path))
    X = _toy()[list(NAMES)].to_numpy(float) + np.random.default_rng(1).normal(0, 0.05, (120, 10))
    m = space.fit_map(X)
    assert m.embedding.shape == (120, 2) and "random_state=0" in m.label()
    assert len(list((tmp_path / "maps").glob("*.joblib"))) == 1
    again = space.fit_map(X)  # from the cache: same map
    assert np.array_equal(again.embedding, m.embedding)
    assert m.transform(X[:5]).shape == (5, 2)
    # the map's neighbours are the exact ones (scikit-learn), which also serve transform
    d = np.linalg.norm(X[:, None] - X[None], axis=-1)
    assert np.array_equal(m.reducer._knn_indices[:, 0], np.arange(120))  # each point first
    assert np.allclose(np.sort(m.reducer._knn_dists, 1), np.sort(d, 1)[:, :15], atol=1e-5)
    with pytest.raises(ValueError, match="n > n_neighbors"):
        space.fit_map(X[:10])


def test_umap_compiled_code_is_cached_on_disk(tmp_path, monkeypatch):
    """umap-learn's own jitted functions get numba's disk cache (recompiling them was ~30 s of
    every fresh process); of a serial/parallel twin only the serial one, as the cache key
    ignores compile flags."""
    from pathlib import Path

    from numba.core.caching import NullCache

    space.import_umap()
    from umap import layouts

    serial = layouts._nb_optimize_layout_euclidean_single_epoch
    assert not isinstance(serial._cache, NullCache)
    assert isinstance(layouts._nb_optimize_layout_euclidean_single_epoch_parallel._cache, NullCache)
    monkeypatch.setenv("VALUELAB_CACHE", str(tmp_path))
    space.fit_map(_toy()[list(NAMES)].to_numpy(float) + np.random.default_rng(2).normal(0, 0.05, (120, 10)))
    assert serial.signatures  # the fit ran the cached serial twin...
    index = Path(serial._cache.cache_path).glob("layouts._optimize_layout_euclidean_single_epoch-*.nbi")
    assert list(index)  # ...and its compiled code is on disk for the next process


def test_map_numbers():
    f = space.frame(_toy())
    X = f[list(NAMES)].to_numpy(float)
    assert space.separation(X, f["safety"] == "unsafe") > 0.95
    noise = np.random.default_rng(0).normal(size=X.shape)
    assert space.separation(noise, f["safety"] == "unsafe") < 0.75
    purity = space.cluster_purity(X[:, [5, 7]] + np.random.default_rng(0).normal(0, 0.01, (len(X), 2)), f["risk"])
    assert purity["privacy violation"] > 0.9
    assert space.trustworthiness(X, X[:, [5, 7]]) > 0.5
    corr = space.risk_correlations(f)
    assert corr.loc["security", "privacy violation"] > 0.5 and corr.loc["security", "bias & toxicity"] < -0.3
    with pytest.raises(ValueError, match="both classes"):
        space.separation(X, np.ones(len(X), bool))


def test_value_map_and_linked_explorer():
    from valuelab import plots, widgets

    f = space.frame(_toy(30))
    f["x"], f["y"] = np.arange(30.0), np.arange(30.0) % 7
    fig = plots.value_map(f, note="n_neighbors=15")
    assert {t.name.split(",")[0] for t in fig.data} <= {"safe", "unsafe", "neutral"}
    assert sum(len(t.x) for t in fig.data) == 30
    arrow = [a for a in fig.layout.annotations if a.text == "safe → unsafe"][0]
    safe, unsafe = (f[f.safety == s][["x", "y"]].median() for s in ("safe", "unsafe"))
    assert (arrow.ax, arrow.ay, arrow.x, arrow.y) == (safe.x, safe.y, unsafe.x, unsafe.y)
    regions = {a.text.split(" (")[0] for a in fig.layout.annotations} - {"safe → unsafe", "n_neighbors=15"}
    assert regions == {"<b>privacy violation</b>", "<b>bias & toxicity</b>"} and len(fig.layout.shapes) == 2
    # the circle sits on the region's densest patch: moving five of its points far away moves it
    pv = f.index[f.risk == "privacy violation"]
    g = f.copy()
    g.loc[pv[:6], ["x", "y"]] = [100.0, 100.0]
    moved = plots.value_map(g).layout  # shapes and region labels come in the same order
    labels = [a.text for a in moved.annotations if a.text.startswith("<b>")]
    shape = moved.shapes[[t.startswith("<b>privacy") for t in labels].index(True)]
    assert shape.x0 < 100 < shape.x1 and shape.y0 < 100 < shape.y1
    assert not plots.value_map(f, marks=False).layout.shapes
    with pytest.raises(ValueError, match="missing column"):
        plots.value_map(f.drop(columns=["risk"]))
    ex = widgets.MapExplorer(f, "ideal")
    trace = ex.map.data[0]
    class Points:  # what plotly hands the callback for a lasso over a trace's first two points
        point_inds = [0, 1]
    ex._on_select(trace, Points, None)
    rows = [int(c[0]) for c in trace.customdata[:2]]
    assert ex.selected == sorted(rows) and "<b>2</b> dialogues selected" in ex.count.value
    assert f.loc[rows[0], "prompt"] in ex.table.value
    mean = f.loc[rows, list(NAMES)].to_numpy(float).mean(0)
    assert list(ex.radar.data[0].r[:10]) == pytest.approx(list(mean))
    ex.target.value = "power"
    assert list(ex.radar.data[1].r[:10]) == [0, 0, 0, 0, 1, 0, 0, 0, 0, 0]
