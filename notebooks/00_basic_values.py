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
# # 00 · Schwartz's basic values as a vector space
#
# Value FULCRA describes what a language model's answer stands for with Schwartz's **10 basic
# human values**. Each dialogue gets a *value vector*: one number per value in [-1, 1], where +1
# means the response upholds the value, 0 no connection, -1 it violates it. BaseAlign then aligns a
# model by pulling its value vectors toward a **target** vector.
#
# This notebook covers: the 10 values and the circumplex they form; the 19 refined values and 54
# value items FULCRA labels with; the named targets (FULCRA's "ideal", country profiles, single
# values); how far apart targets are; and a builder for your own target.

# %%
from valuelab import plots, values, widgets, workbook

workbook.setup()

# %% tags=["parameters"]
profile: str = "classroom"  # parameter profile (notebooks/profiles.toml)
record_path: str = ""  # file for this notebook's metrics as JSON (empty: not written)
compare: str = "ideal,security-conformity,uk,netherlands,france,ess-france,ess-germany"  # targets to compare
builder_start: str = "ideal"  # the target the builder's sliders start from

# %%
compare_targets = [t.strip() for t in compare.split(",") if t.strip()]

# %% [markdown]
# ## The 10 values, in FULCRA's order
# The vector index follows the published BaseAlign code. Note **tradition (6) comes before
# conformity (7)** — many drawings of the circumplex list conformity first.

# %%
plots.value_table()

# %% [markdown]
# ## The circumplex
# Neighbours are compatible, opposites conflict: openness to change vs conservation,
# self-enhancement vs self-transcendence. Tradition and conformity share a wedge (tradition
# outside); hedonism belongs to both openness and self-enhancement. Hover for definitions.

# %%
plots.circumplex()

# %% [markdown]
# ## Refined values and FULCRA's value items
# Schwartz et al. (2012) split the 10 values into 19; FULCRA labels with 54 survey items. Both map
# onto the 10 basic values (face → power and humility → conformity, as FULCRA does).

# %%
import pandas as pd

pd.Series(values.REFINED, name="basic value").rename_axis("refined value").to_frame()

# %%
items = pd.Series(values.ITEMS, name="basic value")
items.index.to_series().groupby(items).apply(", ".join).to_frame("value items")

# %% [markdown]
# ## Reading FULCRA labels
# FULCRA files list only non-zero values, as `"security: -1"`. Real files hold a few malformed
# labels; `parse_labels` repairs them by documented rules and counts every repair.

# %%
report = values.LabelReport()
example = values.ValueVector.from_labels(["conformity: +1", "security: 1", "humility: +1", "benevolence: =1"], report)
example, str(report)

# %% [markdown]
# ## Named targets
# FULCRA's **ideal** safety target, BaseAlign's security+conformity target and country profiles,
# plus European Social Survey round-11 profiles mapped into [-1, 1] (centred scores divided by the
# largest absolute score) and one single-value target per value.

# %%
plots.vector_frame({name: name for name in values.TARGETS}).round(2)

# %%
plots.radar({name: name for name in compare_targets}, title="Named targets", reference="ideal")

# %% [markdown]
# ## How far apart are targets?
# BaseAlign's reward is minus a **masked, target-weighted L1** distance: values the behaviour shows
# only weakly (|v| ≤ 0.3) are ignored, and only the target's non-zero values count. It is not
# symmetric, so read rows as "behaviour" and columns as "target".

# %%
plots.distance_matrix(compare_targets, metric="basealign")

# %%
plots.distance_matrix(compare_targets, metric="l2")

# %% [markdown]
# A response that expresses **no value at all** is at distance 0 from every target — the reward's
# loophole that notebook 04 returns to:

# %%
{name: values.basealign_distance([0] * 10, name) for name in ["ideal", "uk", "power"]}

# %% [markdown]
# ## Build your own target
# Move the sliders; the radar compares your vector with a named target and the table ranks the
# named targets by distance. `builder.vector` holds the result for later notebooks.

# %%
builder = widgets.target_builder(builder_start)
builder

# %%
ess = {c: values.target(f"ess-{c}") for c in ("france", "germany", "netherlands", "sweden")}
metrics = workbook.record({
    "n_values": len(values.VALUES),
    "n_refined": len(values.REFINED),
    "n_items": len(values.ITEMS),
    "n_targets": len(values.TARGETS),
    "distance_uk_ideal": values.basealign_distance("uk", "ideal"),
    "distance_empty_ideal": values.basealign_distance([0] * 10, "ideal"),
    "builder_distance_to_start": values.l2_distance(builder.vector, builder_start),
    "ess_france_max_abs": float(abs(ess["france"].array).max()),
}, record_path)
metrics
