# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 03 · The value space
#
# FULCRA's central picture puts every dialogue at its value vector: **safe and unsafe behaviour
# separate** along security, conformity, benevolence and universalism; **risk types** gather in
# regions of their own; and a risk type absent from the data — *workplace manipulation* — lands
# where its values say. Here we draw it with UMAP and plotly, and measure what it shows.

# %%
from pathlib import Path

import numpy as np

from valuelab import data, judge, plots, space, widgets, workbook
from valuelab.values import NAMES

workbook.setup()

# %% tags=["parameters"]
profile: str = "classroom"  # parameter profile (notebooks/profiles.toml)
record_path: str = ""  # file for this notebook's metrics as JSON (empty: not written)
max_points: int = 20000  # at most this many dialogues on the map
n_neighbors: int = 15  # UMAP neighbourhood size
min_dist: float = 0.1  # UMAP minimum distance between points
jitter: float = 0.05  # noise added to the discrete labels so identical vectors do not stack
target_name: str = "ideal"  # target shown in the linked radar
judge_profile: str = "quick"  # judge for the judge-predicted map (valuelab.judge.PROFILES; cached)
export_dir: str = "../runs/figures"  # where the HTML and PNG exports go

# %%
settings = space.MapSettings(n_neighbors=n_neighbors, min_dist=min_dist)
rng = np.random.default_rng(0)
exports = Path(export_dir)
exports.mkdir(parents=True, exist_ok=True)

# %% [markdown]
# ## The dialogues and their labels
# Safety follows a stated rule (`space.frame`): *unsafe* when the response violates security,
# conformity, benevolence or universalism; *safe* when it upholds one and violates none. Risk
# regions group the 14 harm categories as FULCRA's figure does. Dialogues that express no value at
# all share one vector; they are counted, and left off the map.

# %%
ds = space.frame(data.load_dataset())
silent = (ds[list(NAMES)].abs().sum(axis=1) == 0)
shown = ds[~silent & (ds["split"] != "heldout")].head(max_points).reset_index(drop=True)
held = ds[~silent & (ds["split"] == "heldout")].reset_index(drop=True)
{"dialogues": len(ds), "no value expressed": int(silent.sum()), "on the map": len(shown), "held out": len(held)}

# %%
X = shown[list(NAMES)].to_numpy(float)
vmap = space.fit_map(X + rng.normal(0, jitter, X.shape), settings)
shown[["x", "y"]] = vmap.embedding
plots.value_map(shown, note=f"UMAP of annotated value vectors: {vmap.label()}, jitter={jitter}")

# %% [markdown]
# ## What the map shows, in numbers
# - **Separation**: cross-validated AUROC of a linear probe telling unsafe from safe, on the 2-D
#   map (does the projection keep what the value space holds?), and from the six values that do
#   *not* define safety (is unsafe behaviour visible in the other values too?). In the full 10-D
#   space it is ~1 by construction, since the safety rule reads four of the ten values.
# - **Cluster purity**: the share of a point's 10 nearest map neighbours in the same risk region.
# - **Trustworthiness**: whether map neighbours are neighbours in the value space.
#
# The map is built on *exact* nearest neighbours (`space.fit_map` computes them by brute force):
# annotated vectors are discrete and heavily repeated, and UMAP's default approximate
# neighbours (NN-descent) gave a worse graph on them — on all 7,000-odd mapped dialogues the
# 2-D AUROC was 0.73 with approximate neighbours against 0.89 with exact ones.

# %%
unsafe = shown["safety"] == "unsafe"
others = [v for v in NAMES if v not in space.SAFETY_VALUES]
numbers = {"AUROC 2-D": space.separation(vmap.embedding, unsafe),
           "AUROC other 6 values": space.separation(shown[others].to_numpy(float), unsafe),
           "AUROC 10-D (by construction)": space.separation(X, unsafe),
           "trustworthiness": space.trustworthiness(X, vmap.embedding)}
purity = space.cluster_purity(vmap.embedding, shown["risk"])
numbers, purity.round(3).to_dict()

# %% [markdown]
# ## Values × risk regions
# FULCRA reports, for example, security–illegal 0.294, hedonism–controversial 0.386,
# tradition–controversial 0.302, conformity–bias/toxicity 0.211 and power–privacy −0.203.
# Our correlations (Pearson, value score vs membership of a risk region):

# %%
corr = space.risk_correlations(shown)
plots.heatmap(corr, "Correlation of each value with each risk region")

# %% [markdown]
# ## A novel risk: workplace manipulation
# These prompts were held out of everything above. `transform` places their dialogues on the
# fitted map; their mean vector says why they land where they do (FULCRA: achievement +1,
# self-direction −1, security −1).

# %%
if len(held):
    held[["x", "y"]] = vmap.transform(held[list(NAMES)].to_numpy(float))
    both = shown.assign(risk=shown["risk"]).pipe(lambda d: __import__("pandas").concat([d, held]))
    fig = plots.value_map(both, title="Held-out workplace manipulation projected into the map")
    display(fig)
    display(held[list(NAMES)].mean().round(2).to_frame("mean vector of held-out dialogues").T)
else:
    print("no held-out dialogues with a value yet")

# %% [markdown]
# ## The judge's map
# The same picture through a judge's eyes: a judge trained on the training split (profile
# `judge_profile`, cached after the first run) scores the **test-split** dialogues it never saw,
# and UMAP draws its vectors. Colours and regions still come from the annotations, so the numbers
# say whether the judge's reading keeps safe and unsafe apart on its own.

# %%
value_judge = judge.cached(data.load_dataset("train"), judge_profile)
judged = ds[ds["split"] == "test"].head(max_points).reset_index(drop=True)
judged_vectors = value_judge.score(judged)
judged[list(NAMES)] = judged_vectors
jmap = space.fit_map(judged_vectors, settings)
judged[["x", "y"]] = jmap.embedding
judged_unsafe = judged["safety"] == "unsafe"  # from the annotations
judge_numbers = {"AUROC 2-D (judge map)": space.separation(jmap.embedding, judged_unsafe),
                 "AUROC judged 10-D": space.separation(judged_vectors, judged_unsafe)}
display(plots.value_map(judged, title="Judge-predicted value vectors (test split; colours from the annotations)",
                        note=jmap.label()))
judge_numbers

# %% [markdown]
# ## For comparison: a map of the texts
# The same dialogues embedded by MiniLM (what they *say*, not what they *stand for*):

# %%
E = space.text_embeddings(shown)
tmap = space.fit_map(E, settings)
text_numbers = {"AUROC 2-D (text map)": space.separation(tmap.embedding, unsafe),
                "purity (text map)": space.cluster_purity(tmap.embedding, shown["risk"]).round(3).to_dict()}
text_numbers

# %% [markdown]
# ## Explore
# Draw a lasso (or box) round any group of points: the table fills with those dialogues and the
# radar shows their mean value vector against the target.

# %%
explorer = widgets.MapExplorer(shown, target_name)
explorer

# %% [markdown]
# ## Export
# Static HTML (self-contained) for reports; PNG for slides when a Chromium for kaleido is present.

# %%
figure = plots.value_map(shown, note=vmap.label())
figure.write_html(exports / "value_map.html", include_plotlyjs=True)
try:
    figure.write_image(exports / "value_map.png", scale=2)
    png = True
except Exception as e:  # kaleido needs a Chrome/Chromium binary
    png = False
    print(f"PNG export skipped: {type(e).__name__}")
sorted(p.name for p in exports.iterdir())

# %%
metrics = workbook.record({
    "n_map": len(shown), "n_silent": int(silent.sum()), "n_heldout": len(held),
    **{k: float(v) for k, v in numbers.items()},
    "purity": {k: float(v) for k, v in purity.items()},
    "text_map_auroc_2d": float(text_numbers["AUROC 2-D (text map)"]),
    "judge_map": {"n": len(judged), **{k: float(v) for k, v in judge_numbers.items()}},
    "heldout_mean": held[list(NAMES)].mean().round(3).to_dict() if len(held) else None,
    "exports": {"html": (exports / "value_map.html").exists(), "png": png},
}, record_path)
metrics
