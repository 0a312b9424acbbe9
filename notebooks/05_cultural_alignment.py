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
# # 05 · Cultural alignment: one model, two countries' value profiles
#
# BaseAlign's target need not be a safety ideal. The published work aligned a model to country
# value profiles (United Kingdom, France); their source is not documented, but they match European
# Social Survey PVQ-21 country means rescaled to [−1, 1]. Here SmolLM2 is aligned
# twice, once toward each of two profiles, and we check that each policy's responses move
# **toward its own target and away from the other** — on value-laden prompts no run trained on.
#
# Two neighbouring countries differ by a few tenths on a few values, and both lie far from the
# base model: the plain BaseAlign reward (distance to one profile) pulls a policy toward *both*.
# So each run here is rewarded for nearing its own profile and, with weight `away_weight`, for
# leaving the other: `-d(v, own) + w * d(v, other)` (`away_weight = 0` is BaseAlign's reward).
#
# **Which two profiles.** The published UK and France vectors differ by at most 0.24 on any
# value, and mostly on hedonism, achievement and stimulation — values a small judge barely reads
# (notebook 02). Aligned to them at classroom scale, both policies moved the same way, toward the
# UK (we measured it; set `countries = "uk,france"` to see it). The default pair comes from the
# survey the published vectors match, European Social Survey round 11 (centred scores), and
# differs where the judge can see: France puts security at +0.33 and Sweden at −0.07; Sweden puts
# benevolence, universalism and self-direction higher (0.96, 0.80, 0.56 against 0.64, 0.59, 0.30).

# %%
from dataclasses import replace

import pandas as pd

from valuelab import align, data, evaluate, grpo, judge, plots, workbook
from valuelab.values import target

workbook.setup()

# %% tags=["parameters"]
profile: str = "classroom"  # parameter profile (notebooks/profiles.toml)
record_path: str = ""  # file for this notebook's metrics as JSON (empty: not written)
countries: str = "ess-france,ess-sweden"  # two targets from valuelab.values.TARGETS (uk, france, ess-*, ...)
reward_kind: str = "covered"  # covered: every value of the profile counts | masked_l1 | l2
judge_profile: str = "classroom"  # judge training profile (valuelab.judge.PROFILES): smoke | quick | classroom | full
rl_steps: int = 24  # GRPO updates per country (32 completions each)
num_generations: int = 8  # completions per prompt in a GRPO group (32 // this prompts per update)
learning_rate: float = 2e-3  # LoRA learning rate
kl_beta: float = 0.1  # KL(policy || base) penalty, BaseAlign's initial PPO coefficient (0: none)
away_weight: float = 0.75  # reward -d(own) + w * d(other); 0: BaseAlign's plain reward
max_new_tokens: int = 48  # completion length
eval_prompts: int = 60  # held-out value-dilemma prompts
out_dir: str = "../runs/05"  # where the adapters go

# %% [markdown]
# ## The two profiles
#
# Both share most of their shape with other Western European countries: high benevolence,
# universalism and self-direction, low power. Where they differ is what alignment must move.

# %%
a, b = countries.split(",")
targets = {a: target(a).array, b: target(b).array}
display(plots.vector_frame(targets).round(3))
plots.radar(targets, title=f"{a} and {b}")

# %% [markdown]
# ## A judge, and one GRPO run per country
#
# The judge is notebook 02's (same profile and data, cached: trained here only if notebook 02
# has not run). The runs train on value-dilemma and benign prompts of the training split, the
# target riding in the dataset's `target` column — how TRL's trainers pass per-prompt targets
# to a reward.

# %%
train = data.load_dataset("train")
config = judge.PROFILES[judge_profile]
value_judge = judge.cached(train, config)
prompts = data.load_prompts()
splits = prompts["id"].map(data.prompt_splits(prompts))
train_prompts = prompts[(splits == "train") & prompts["kind"].isin(["value-dilemma", "benign"])]

# %%
rl_config = grpo.GRPOConfig(steps=rl_steps, learning_rate=learning_rate, max_new_tokens=max_new_tokens,
                            num_generations=num_generations, prompts_per_step=max(1, 32 // num_generations),
                            beta=kl_beta)
runs = {}
for country, other in ((a, b), (b, a)):
    reward_fn = align.make_reward_function(value_judge, reward_kind, away=targets[other], away_weight=away_weight)
    runs[country] = f"{out_dir}/{country}-{reward_kind}-away{away_weight:g}-{rl_config.tag()}-{value_judge.cache_key}"
    grpo.train(train_prompts.assign(target=[list(targets[country])] * len(train_prompts)), reward_fn,
               runs[country], rl_config)

# %% [markdown]
# ## Where do the responses land?
#
# Each policy answers the same held-out value-dilemma prompts. The table gives each policy's mean
# distance to each target, and the change from the base model paired by prompt (95% intervals).

# %%
held_out = evaluate.eval_prompts(kinds=("value-dilemma",), per_kind=eval_prompts)
sampling = replace(evaluate.EVAL_SAMPLING, max_new_tokens=max_new_tokens)
policies = {"base": grpo.load_policy(), **{f"aligned to {c}": grpo.load_policy(f"{r}/adapter")
                                           for c, r in runs.items()}}
responses = {name: evaluate.sample(p, held_out, sampling=sampling) for name, p in policies.items()}

# %%
scored = {(name, c): evaluate.score(df, value_judge, vec, reward_kind)
          for name, df in responses.items() for c, vec in targets.items()}
rows = [{"policy": name, "target": c, "distance": evaluate.bootstrap_ci(s, "distance"),
         "change from base": evaluate.paired_difference(s, scored[("base", c)]) if name != "base" else None}
        for (name, c), s in scored.items()]
moves = pd.DataFrame(rows).set_index(["policy", "target"])
evaluate.format_table(moves)

# %% [markdown]
# **Toward one and away from the other**: for each policy, its margin — distance to its own
# target minus distance to the other — against the base model's, paired by prompt (95% interval).
# A negative change: the policy's answers now sit nearer its own profile *relative to the other*.

# %%
def margin(name, own, other):
    """Per response: d(own) - d(other), for paired comparison with the base model."""
    s = scored[(name, own)]
    return s.assign(distance=s["distance"] - scored[(name, other)]["distance"].to_numpy())


margins = pd.DataFrame([{"policy": f"aligned to {own}", "margin": f"d({own}) - d({other})",
                         "base": margin("base", own, other)["distance"].mean(),
                         "aligned": margin(f"aligned to {own}", own, other)["distance"].mean(),
                         "change": evaluate.paired_difference(margin(f"aligned to {own}", own, other),
                                                              margin("base", own, other))}
                        for own, other in ((a, b), (b, a))]).set_index("policy")
margins.assign(change=evaluate.format_table(margins[["change"]])["change"]).round(3)

# %%
vectors = evaluate.mean_vectors({n: scored[(n, a)] for n in responses})
plots.radar({**{f"target {c}": v for c, v in targets.items()}, **{n: vectors.loc[n].to_numpy() for n in vectors.index}},
            title="Mean value vectors of the responses against both targets")

# %%
evaluate.side_by_side(responses, n=3)

# %% [markdown]
# ## Reading the results
#
# - A negative *change from base* toward the policy's own target, and a smaller one (or a
#   positive one) toward the other, is the movement the published work reports; the margin
#   table says whether each policy ended nearer its own profile *relative to* the other.
# - Both profiles share a large common part (benevolence, universalism, low power) that the base
#   model lacks, so moving toward one also moves toward the other; only the difference between
#   them can separate the two policies, and a 135M-parameter model judged by a small judge moves
#   mostly along the values the judge reads well (see notebook 02).
# - `away_weight = 0` is BaseAlign's plain reward; `countries = "uk,france"` the published pair;
#   any two names from `valuelab targets` (or `ess-germany`, `ess-netherlands`) work.
# - Measured with this profile on 2 CPU cores (classroom judge, 24 updates per country, 60
#   held-out prompts): with `away_weight = 0.75` each policy moved toward its own profile
#   (France −0.079 [−0.125, −0.032], Sweden −0.161 [−0.221, −0.103]), not significantly toward
#   the other (−0.045, −0.044; intervals include 0), and both margins improved (−0.034
#   [−0.062, −0.007], −0.117 [−0.156, −0.079]). With 0.5 both policies also came nearer the
#   other profile; with 1.0 the France policy left both profiles (+0.042 from France, +0.129
#   from Sweden). The weight trades "toward" against "away".

# %%
workbook.record({"countries": [a, b], "reward_kind": reward_kind, "rl_steps": rl_steps, "away_weight": away_weight,
                 "own_change": {c: moves.loc[(f"aligned to {c}", c), "change from base"][0] for c in targets},
                 "other_change": {c: moves.loc[(f"aligned to {c}", o), "change from base"][0]
                                  for c, o in ((a, b), (b, a))},
                 "margin_base": margins["base"].tolist(), "margin_aligned": margins["aligned"].tolist(),
                 "margin_change": margins["change"].tolist()},
                record_path)
