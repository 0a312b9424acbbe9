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

# %%
from dataclasses import replace

import pandas as pd

from valuelab import align, data, evaluate, grpo, judge, plots, workbook
from valuelab.values import target

workbook.setup()

# %% tags=["parameters"]
profile: str = "classroom"  # parameter profile (notebooks/profiles.toml)
record_path: str = ""  # file for this notebook's metrics as JSON (empty: not written)
countries: str = "uk,france"  # two targets from valuelab.values.TARGETS (uk, france, netherlands, ess-*)
reward_kind: str = "covered"  # covered: every value of the profile counts | masked_l1 | l2
judge_profile: str = "quick"  # judge training profile (valuelab.judge.PROFILES): smoke | quick | classroom | full
rl_steps: int = 24  # GRPO updates per country (32 completions each)
num_generations: int = 8  # completions per prompt in a GRPO group (32 // this prompts per update)
learning_rate: float = 2e-3  # LoRA learning rate
kl_beta: float = 0.1  # KL(policy || base) penalty, BaseAlign's initial PPO coefficient (0: none)
max_new_tokens: int = 48  # completion length
eval_prompts: int = 60  # held-out value-dilemma prompts
out_dir: str = "../runs/05"  # where the adapters go

# %% [markdown]
# ## The two profiles
#
# Both are close to each other and to most Western European countries: high benevolence,
# universalism and self-direction, low power. Where they differ is what alignment must move.

# %%
a, b = countries.split(",")
targets = {a: target(a).array, b: target(b).array}
display(plots.vector_frame(targets).round(3))
plots.radar(targets, title=f"{a} and {b}")

# %% [markdown]
# ## A judge, and one GRPO run per country
#
# Trained on value-dilemma and benign prompts of the training split, the target riding in the
# dataset's `target` column — exactly how TRL's trainers pass per-prompt targets to a reward.

# %%
train = data.load_dataset("train")
config = judge.PROFILES[judge_profile]
value_judge = judge.cached(train, config)
prompts = data.load_prompts()
splits = prompts["id"].map(data.prompt_splits(prompts))
train_prompts = prompts[(splits == "train") & prompts["kind"].isin(["value-dilemma", "benign"])]
reward_fn = align.make_reward_function(value_judge, reward_kind)

# %%
rl_config = grpo.GRPOConfig(steps=rl_steps, learning_rate=learning_rate, max_new_tokens=max_new_tokens,
                            num_generations=num_generations, prompts_per_step=max(1, 32 // num_generations),
                            beta=kl_beta)
runs = {}
for country, vec in targets.items():
    runs[country] = f"{out_dir}/{country}-{reward_kind}-{rl_config.tag()}-{value_judge.cache_key}"
    grpo.train(train_prompts.assign(target=[list(vec)] * len(train_prompts)), reward_fn, runs[country], rl_config)

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
# **Toward one and away from the other**: for each aligned policy, how much closer it is to its own
# target than to the other one, compared with the base model's margin.

# %%
def margin(name, own, other):
    return scored[(name, own)]["distance"].mean() - scored[(name, other)]["distance"].mean()


margins = pd.DataFrame({"base": [margin("base", a, b), margin("base", b, a)],
                        "aligned": [margin(f"aligned to {a}", a, b), margin(f"aligned to {b}", b, a)]},
                       index=[f"{a} - {b}", f"{b} - {a}"])
margins.round(4)

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
#   positive one) toward the other, is the movement the published work reports.
# - The two profiles differ by a few tenths on a few values; a 135M-parameter model judged by a
#   small judge moves mostly along the values the judge reads well (see notebook 02).
# - Swap `countries` for `ess-france,ess-germany` (European Social Survey round 11, centred)
#   or for any two names from `valuelab targets`.

# %%
workbook.record({"countries": [a, b], "reward_kind": reward_kind, "rl_steps": rl_steps,
                 "own_change": {c: moves.loc[(f"aligned to {c}", c), "change from base"][0] for c in targets},
                 "other_change": {c: moves.loc[(f"aligned to {c}", o), "change from base"][0]
                                  for c, o in ((a, b), (b, a))},
                 "margin_base": margins["base"].tolist(), "margin_aligned": margins["aligned"].tolist()},
                record_path)
