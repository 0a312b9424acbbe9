"""Plotly figures of the value space. Each helper takes data, validates it, returns the figure.

    >>> from valuelab import plots
    >>> plots.circumplex().show()
    >>> plots.radar({"ideal": "ideal", "uk": "uk"}).show()
    >>> plots.distance_matrix(["ideal", "uk", "france"]).show()
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from valuelab.values import (
    HIGHER_ORDER,
    NAMES,
    REFINED,
    VALUES,
    as_array,
    basealign_distance,
    circumplex_xy,
    cosine_distance,
    l2_distance,
    target,
)

GROUP_COLOURS = dict(zip(HIGHER_ORDER, ("#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd")))
DISTANCES = {"basealign": basealign_distance, "l2": l2_distance, "cosine": cosine_distance}


def circumplex(title: str = "Schwartz's circumplex of basic values") -> go.Figure:
    """The 10 values round the circle, coloured by higher-order group, with refined values."""
    xy = circumplex_xy()
    fig = go.Figure()
    theta = np.linspace(0, 2 * np.pi, 200)
    fig.add_scatter(x=np.cos(theta) * 1.0, y=np.sin(theta) * 1.0, mode="lines",
                    line=dict(color="lightgrey"), hoverinfo="skip", showlegend=False)
    for group in HIGHER_ORDER:
        members = [v for v in VALUES if v.groups[0] == group]
        fig.add_scatter(
            x=[xy[v][0] for v in members], y=[xy[v][1] for v in members], mode="markers+text",
            text=[str(v) for v in members], textposition="top center", name=group,
            marker=dict(size=18, color=GROUP_COLOURS[group]),
            hovertext=[f"<b>{v}</b> ({v.abbr})<br>{v.definition}<br>refined: " +
                       ", ".join(r for r, b in REFINED.items() if b == v) for v in members],
            hoverinfo="text")
    fig.update_layout(title=title, width=650, height=600, xaxis=dict(visible=False, range=[-1.6, 1.6]),
                      yaxis=dict(visible=False, range=[-1.6, 1.6], scaleanchor="x"),
                      annotations=[dict(x=0, y=0, showarrow=False, text="adjacent: compatible<br>"
                                        "opposite: in conflict", font=dict(color="grey"))])
    return fig


def radar(vectors: dict, title: str = "Value vectors", reference: str | None = None) -> go.Figure:
    """Radar chart of named value vectors ({label: vector or target name}); radius -1..+1."""
    if not vectors:
        raise ValueError("radar: no vectors to draw")
    fig = go.Figure()
    theta = [v.abbr for v in VALUES] + [VALUES[0].abbr]
    for label, vec in vectors.items():
        a = as_array(vec, name=str(label))
        if a.ndim != 1:
            raise ValueError(f"radar: {label!r} must be one vector, got shape {a.shape}")
        fig.add_scatterpolar(r=list(a) + [a[0]], theta=theta, name=str(label),
                             line=dict(dash="dash" if label == reference else "solid"),
                             hovertemplate="%{theta}: %{r:+.2f}<extra>" + str(label) + "</extra>")
    fig.update_layout(title=title, polar=dict(radialaxis=dict(range=[-1, 1], tickvals=[-1, -0.5, 0, 0.5, 1])),
                      width=600, height=500)
    return fig


def distance_matrix(names: list[str], metric: str = "basealign") -> go.Figure:
    """Heatmap of distance(row as behaviour v, column as target t) between targets.

    BaseAlign's distance is not symmetric: it masks v's weak values and weights by t.
    """
    return _heatmap(distance_table(names, metric), f"{metric} distance: row = vector, column = target")


def distance_table(names: list[str], metric: str = "basealign") -> pd.DataFrame:
    if metric not in DISTANCES:
        raise ValueError(f"unknown metric {metric!r}; choose from {list(DISTANCES)}")
    f = DISTANCES[metric]
    vecs = {n: target(n) for n in names}
    return pd.DataFrame([[f(vecs[a], vecs[b]) for b in names] for a in names], index=names, columns=names)


def _heatmap(df: pd.DataFrame, title: str) -> go.Figure:
    fig = go.Figure(go.Heatmap(z=df.values, x=list(df.columns), y=list(df.index), colorscale="Viridis",
                               text=np.round(df.values, 2), texttemplate="%{text}"))
    fig.update_layout(title=title, width=700, height=600, yaxis=dict(autorange="reversed"))
    return fig


def value_table() -> pd.DataFrame:
    """The 10 values with abbreviation, group(s), circumplex angle and definition."""
    return pd.DataFrame([{"value": str(v), "abbr": v.abbr, "groups": " / ".join(v.groups),
                          "angle": v.angle, "definition": v.definition} for v in VALUES]).set_index("value")


def vector_frame(vectors: dict) -> pd.DataFrame:
    """{label: vector} -> a DataFrame with one column per value (FULCRA order)."""
    return pd.DataFrame({k: as_array(v, name=str(k)) for k, v in vectors.items()}, index=list(NAMES)).T


def label_rates(rates: dict[str, pd.DataFrame], title: str = "Label rates per value") -> go.Figure:
    """Grouped bars of the share of dialogues labelled +1 (up) and -1 (down) per value, for each
    labelled set ({name: DataFrame from ``annotate.label_rates``}), like FULCRA's figure."""
    if not rates:
        raise ValueError("label_rates: nothing to draw")
    fig = go.Figure()
    for name, df in rates.items():
        fig.add_bar(x=list(df.index), y=df["aligned (+1)"].fillna(0), name=f"{name} +1")
        fig.add_bar(x=list(df.index), y=-df["violated (-1)"].fillna(0), name=f"{name} −1")
    fig.update_layout(title=title, barmode="group", yaxis=dict(title="share of dialogues (−1 below 0)",
                      tickformat=".0%"), width=900, height=450)
    return fig


def agreement_bars(table: pd.DataFrame, title: str = "Agreement per value") -> go.Figure:
    """Cohen's kappa and percent agreement per value (a table from ``annotate.agreement``)."""
    fig = go.Figure([go.Bar(x=list(table.index), y=table["kappa"], name="Cohen's κ"),
                     go.Bar(x=list(table.index), y=table["agreement"], name="% agreement")])
    fig.update_layout(title=title, barmode="group", yaxis=dict(range=[-0.2, 1]), width=900, height=400)
    return fig


def confusion_grid(y_true, y_pred, title: str = "Confusion per value (rows: annotated, columns: judged)"):
    """A 2 x 5 grid of 3x3 confusion heatmaps (-1/0/+1), one per value."""
    from plotly.subplots import make_subplots
    from sklearn.metrics import confusion_matrix

    y_true, y_pred = np.asarray(y_true, dtype=int), np.asarray(y_pred, dtype=int)
    if y_true.shape != y_pred.shape or y_true.ndim != 2 or y_true.shape[1] != len(VALUES):
        raise ValueError(f"confusion_grid needs two (n, 10) label arrays, got {y_true.shape} and {y_pred.shape}")
    fig = make_subplots(rows=2, cols=5, subplot_titles=[str(v) for v in VALUES])
    labels = ["−1", "0", "+1"]
    for j in range(len(VALUES)):
        cm = confusion_matrix(y_true[:, j], y_pred[:, j], labels=[-1, 0, 1])
        fig.add_trace(go.Heatmap(z=cm, x=labels, y=labels, text=cm, texttemplate="%{text}", showscale=False,
                                 colorscale="Blues"), row=j // 5 + 1, col=j % 5 + 1)
    fig.update_yaxes(autorange="reversed")
    fig.update_layout(title=title, width=1100, height=520)
    return fig


def calibration(curves: dict[str, pd.DataFrame], title: str = "Calibration: mean label per score bin"):
    """Reliability curves ({name: judge.calibration_curve(...)}) against the diagonal."""
    fig = go.Figure(go.Scatter(x=[-1, 1], y=[-1, 1], mode="lines", line=dict(dash="dot", color="grey"),
                               name="perfect"))
    for name, c in curves.items():
        fig.add_scatter(x=c["mean_score"], y=c["mean_label"], mode="lines+markers", name=name,
                        text=c["n"], hovertemplate="score %{x:.2f} → label %{y:.2f} (n=%{text})")
    fig.update_layout(title=title, xaxis_title="mean predicted score", yaxis_title="mean annotated label",
                      width=600, height=500)
    return fig


SAFETY_COLOURS = {"safe": "#2ca02c", "neutral": "#bbbbbb", "unsafe": "#d62728"}


def value_map(df: pd.DataFrame, title: str = "Dialogues in the value space", note: str = "",
              marks: bool = True) -> go.Figure:
    """Scatter of a map (columns x, y, safety, risk, prompt, response and the 10 values):
    colour = safe/unsafe, symbol = risk region, hover = the dialogue and its vector; ``marks``
    draws the safe -> unsafe direction and where each risk region gathers, as FULCRA's figure does."""
    import plotly.express as px

    need = {"x", "y", "safety", "risk", "prompt", "response", *NAMES}
    if missing := need - set(df.columns):
        raise ValueError(f"value_map: missing column(s) {sorted(missing)}")
    hover = df.assign(
        dialogue=("<b>Human:</b> " + df["prompt"].str.slice(0, 120) + "<br><b>Bob:</b> "
                  + df["response"].str.slice(0, 160)),
        vector=[" ".join(f"{v.abbr}{x:+.1f}" for v, x in zip(VALUES, row) if abs(x) >= 0.3)
                for row in df[list(NAMES)].to_numpy(float)], row=np.arange(len(df)))
    fig = px.scatter(hover, x="x", y="y", color="safety", symbol="risk", color_discrete_map=SAFETY_COLOURS,
                     custom_data=["row"], opacity=0.7,  # customdata[0]: the row, for linked selection
                     hover_data={"dialogue": True, "vector": True, "x": False, "y": False})
    fig.update_traces(marker=dict(size=6))
    fig.update_layout(title=title, width=950, height=650, xaxis=dict(visible=False), yaxis=dict(visible=False),
                      annotations=[dict(text=note, xref="paper", yref="paper", x=0, y=-0.04, showarrow=False,
                                        font=dict(size=10, color="grey"))] if note else [])
    if marks:
        mark_regions(fig, df)
    return fig


def mark_regions(fig: go.Figure, df: pd.DataFrame, cells: int = 20) -> go.Figure:
    """On a map figure: an arrow from the median point of safe dialogues to that of unsafe ones,
    and for each risk region a dashed circle round its densest patch (the cell of a
    ``cells`` x ``cells`` grid holding most of its points), labelled with the share it holds."""
    med = df.groupby("safety")[["x", "y"]].median()
    if {"safe", "unsafe"} <= set(med.index):
        (x0, y0), (x1, y1) = med.loc["safe"], med.loc["unsafe"]
        fig.add_annotation(x=x1, y=y1, ax=x0, ay=y0, xref="x", yref="y", axref="x", ayref="y",
                           text="safe → unsafe", showarrow=True, arrowhead=3, arrowwidth=2.5, arrowcolor="black",
                           font=dict(size=13, color="black"), bgcolor="rgba(255,255,255,0.7)")
    size = max(np.ptp(df["x"]), np.ptp(df["y"]), 1e-9) / cells
    for region, g in df[df["risk"] != "no risk"].groupby("risk"):
        if len(g) < 5:
            continue
        cell = np.floor(g[["x", "y"]].to_numpy() / size).astype(int)
        keys, counts = np.unique(cell, axis=0, return_counts=True)
        patch = g[(cell == keys[counts.argmax()]).all(1)][["x", "y"]]
        cx, cy = patch.median()
        r = max(np.hypot(patch["x"] - cx, patch["y"] - cy).max(), size / 2) * 1.3
        fig.add_shape(type="circle", x0=cx - r, x1=cx + r, y0=cy - r, y1=cy + r, xref="x", yref="y",
                      line=dict(color="dimgrey", dash="dash", width=1.5))
        fig.add_annotation(x=cx, y=cy + r, text=f"<b>{region}</b> ({len(patch) / len(g):.0%})", showarrow=False,
                           yshift=8, font=dict(size=11, color="dimgrey"), bgcolor="rgba(255,255,255,0.6)")
    return fig


def heatmap(table: pd.DataFrame, title: str, zmid: float = 0.0) -> go.Figure:
    """A diverging heatmap of a values x groups table (e.g. value x risk correlations)."""
    fig = go.Figure(go.Heatmap(z=table.values, x=list(table.columns), y=list(table.index), zmid=zmid,
                               colorscale="RdBu", text=np.round(table.values, 2), texttemplate="%{text}"))
    fig.update_layout(title=title, width=800, height=520, yaxis=dict(autorange="reversed"))
    return fig
