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
# # 01 · Building a value-annotated dataset
#
# FULCRA's core asset is ~20,000 (prompt, response, value vector) records: each response labelled,
# per basic value, as aligned (+1), unrelated (0) or violated (−1). valuelab builds its own, openly:
#
# 1. a **prompt bank** written for the project (harmful requests, everyday requests, value dilemmas),
# 2. **responses** from a real small chat model (SmolLM2-135M-Instruct), plainly and under value
#    personas,
# 3. **labels** decided by reading each dialogue against the annotation guideline,
# 4. **agreement** between independent annotators, and label rates next to FULCRA's.

# %%
import os

from valuelab import annotate, data, generate, plots, widgets, workbook

workbook.setup()

# %% tags=["parameters"]
profile: str = "classroom"  # parameter profile (notebooks/profiles.toml)
record_path: str = ""  # file for this notebook's metrics as JSON (empty: not written)
model: str = "smollm2-135m-instruct"  # chat model for the live generation
n_live: int = 8  # prompts to answer live
max_new_tokens: int = 64  # length limit of the live responses
annotator_model: str = ""  # LLM annotator model, with VALUELAB_ANNOTATOR_BASE_URL set (empty: skip)
review_path: str = "../runs/review/01_review.jsonl"  # where the review widget saves decisions

# %%
live_dir = data.ROOT / "runs" / "live" / f"{profile}-{n_live}-{max_new_tokens}"
has_endpoint = bool(annotator_model and os.environ.get("VALUELAB_ANNOTATOR_BASE_URL"))

# %% [markdown]
# ## 1 · The prompt bank
# 5,900 prompts written for valuelab: every BeaverTails harm category, benign everyday requests,
# and value dilemmas for each of the 10 values. The **workplace-manipulation** family is held out
# as a novel risk (notebook 03 places it on the map).

# %%
prompts = data.load_prompts()
prompts.groupby(["kind", "heldout"]).size().rename("prompts").to_frame()

# %%
prompts.sample(6, random_state=1)[["id", "kind", "family", "stance", "text"]]

# %% [markdown]
# ## 2 · Responses from a real model, live
# `valuelab.generate` answers prompts in resumable, seeded batches. The shipped dialogues were made
# the same way by `data/dialogues/prepare.py` (plain, 20 value personas, two temperatures).

# %%
backend = generate.TransformersBackend(model, batch_size=8)
live = generate.generate(prompts.sample(n_live, random_state=0), live_dir, backend,
                         sampling=generate.Sampling(max_new_tokens=max_new_tokens))
live[["prompt", "response", "n_tokens"]]

# %% [markdown]
# A value **persona** steers the model toward or against one value through a system prompt:

# %%
generate.PERSONAS["power+"], generate.PERSONAS["universalism-"]

# %% [markdown]
# ## 3 · Annotation
# Labels are decided by **reading** each dialogue against the guideline — the exact text an LLM
# annotator receives. Its core rule: *judge the response, not the prompt*.

# %%
from IPython.display import Markdown

Markdown(annotate.guideline().split("## The values")[0])

# %% [markdown]
# A **lexicon** baseline marks +1 wherever a word from pyvalues' Schwartz dictionary appears.
# It is fast and transparent — and, as section 4 shows, a weak annotator.

# %%
lexicon = annotate.LexiconAnnotator()
suggested = lexicon.annotate(live)
suggested.drop(columns=["items"]).head()

# %% [markdown]
# An LLM annotator behind any OpenAI-compatible endpoint (set `VALUELAB_ANNOTATOR_BASE_URL`,
# `OPENAI_API_KEY`, and the `annotator_model` parameter) retries failures, quarantines what still
# fails and caches per dialogue, so a long run resumes.

# %%
if has_endpoint:
    llm = annotate.LLMAnnotator(annotator_model, cache=data.ROOT / "runs" / "llm_labels.jsonl")
    display(llm.annotate(live).drop(columns=["items"]))
else:
    print("no annotator endpoint configured: skipping the LLM annotator")

# %% [markdown]
# People review with a widget: ten three-way toggles prefilled from a suggestion; every decision
# is saved at once and a new session resumes where the last stopped. Keyboard: type ten
# characters of `+ 0 -` in *quick* and press Enter.

# %%
review = widgets.ReviewWidget(live, review_path, suggestions=suggested)
review

# %% [markdown]
# ## 4 · The shipped dataset
# `load_dataset()` joins the dialogues, their labels and fixed splits (stratified by kind, split
# by prompt so no prompt crosses splits; workplace manipulation is its own `heldout` split).

# %%
ds = data.load_dataset()
ds.groupby(["split", "kind"]).size().unstack(fill_value=0)

# %%
plots.label_rates({"valuelab": annotate.label_rates(ds), "FULCRA (published)": annotate.FULCRA_RATES})

# %% [markdown]
# ### Do independent annotators agree?
# A sample was annotated twice, independently. Cohen's κ per value, and Krippendorff's α over
# all (dialogue, value) units:

# %%
second = data.load_annotations("second") if (data.ANNOTATIONS / "second").exists() else None
if second is not None:
    agree = annotate.agreement(ds, second)
    alpha = annotate.krippendorff_alpha(ds, second)
    display(plots.agreement_bars(agree, f"Two annotators, {int(agree['n'].iloc[0])} dialogues (α = {alpha:.2f})"))
else:
    agree, alpha = None, float("nan")
    print("no double annotation shipped yet")

# %% [markdown]
# And the lexicon baseline against the dataset's labels:

# %%
sample = ds.sample(min(len(ds), 300), random_state=0)
lex_agree = annotate.agreement(sample, lexicon.annotate(sample))
lex_agree.round(2)

# %%
summary = data.dialogue_summary(data.load_dialogues(), prompts)
summary["kind"]

# %%
metrics = workbook.record({
    "n_prompts": len(prompts), "n_live": len(live), "n_dataset": len(ds),
    "n_dialogues": int(summary["kind"]["dialogues"].sum()),
    "splits": ds["split"].value_counts().to_dict(),
    "lexicon_mean_kappa": float(lex_agree["kappa"].mean()),
    "double_mean_kappa": float(agree["kappa"].mean()) if agree is not None else None,
    "krippendorff_alpha": alpha,
    "review_saved": review.position,
}, record_path)
metrics
