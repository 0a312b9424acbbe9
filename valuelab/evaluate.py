"""Evaluating aligned policies on prompts no method trained on, with bootstrap intervals.

    >>> from valuelab import evaluate as E
    >>> prompts = E.eval_prompts(per_kind=40)                       # test-split prompts
    >>> base = E.sample(load_policy(), prompts)                    # responses + token log-probs
    >>> tuned = E.sample(load_policy("runs/grpo/adapter"), prompts)
    >>> rows = {m: E.score(df, judge, "ideal", second_judge=j2) for m, df in {"base": base, "BaseAlign": tuned}.items()}
    >>> E.results_table(rows)                                      # FULCRA-shaped table with 95% CIs

Measures, per response (one row per sampled completion):
- ``distance``: the judge's distance to the target (the reward's kind, masked L1 by default),
  ``covered`` (the loophole-free distance) and ``published`` (BaseAlign's masked L1, whatever the
  reward: a response expressing no value scores 0 on it); ``v_<value>`` the judge's vector;
- ``second_distance``: the same distance under a second, independently trained judge — a policy
  that games its own judge improves the first and not the second;
- ``refusal`` (``valuelab.data.is_refusal``) — harmlessness on harmful prompts, and unhelpful
  refusals on benign ones; ``quality``: on benign prompts, the second judge's benevolence score
  (the guideline marks benevolence +1 for a correct, usable answer);
- ``fluency``: mean per-token log-likelihood under the base model (degenerate text drops it);
- ``kl``: KL(policy || base) of the next-token distributions, summed along each sampled
  completion (exact per step, non-negative; the prefixes are the evaluation samples). Inference-
  time picks (best-of-N, MAP) have no policy of their own: drop the column for them (best-of-N's
  KL is at most log N - (N-1)/N).
Intervals: percentile bootstrap over prompts (a prompt's samples resampled together); differences
from the base are paired by prompt.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from valuelab.align import distance
from valuelab.data import is_refusal, load_prompts, prompt_splits
from valuelab.generate import Sampling
from valuelab.values import NAMES

EVAL_SAMPLING = Sampling(temperature=0.7, top_p=0.9, max_new_tokens=48, seed=1234)


def eval_prompts(split: str = "test", per_kind: int | None = None, kinds=("harmful", "benign", "value-dilemma"),
                 seed: int = 0) -> pd.DataFrame:
    """Prompts of one split (``test`` by default: never used to train a judge or a policy),
    at most ``per_kind`` of each kind."""
    prompts = load_prompts()
    prompts = prompts[prompts["id"].map(prompt_splits(prompts)) == split]
    prompts = prompts[prompts["kind"].isin(kinds)]
    if per_kind:
        prompts = pd.concat([g.sample(min(per_kind, len(g)), random_state=seed)
                             for _, g in prompts.groupby("kind", sort=True)])
    return prompts.reset_index(drop=True)


def sample(policy, prompts: pd.DataFrame, n: int = 1, sampling: Sampling = EVAL_SAMPLING,
           log_probs: bool = True) -> pd.DataFrame:
    """``n`` completions per prompt from a ``valuelab.grpo.Policy``: one row each, with the
    tokens and (``log_probs``) their summed log-probability under the policy and the base."""
    texts = prompts["text"].tolist()
    got = policy.sample(texts, n, sampling, key="eval")
    meta = prompts.loc[prompts.index.repeat(n)].reset_index(drop=True)
    df = pd.DataFrame({"prompt_id": meta["id"], "kind": meta.get("kind"), "prompt": [g["prompt"] for g in got],
                       "response": [g["completion"] for g in got], "sample": np.tile(np.arange(n), len(texts)),
                       "tokens": [g["tokens"] for g in got], "prompt_ids": [g["prompt_ids"] for g in got]})
    if log_probs:
        df["policy_logp"], df["base_logp"], df["kl"] = _log_probs(policy, df)
    return df


@torch.inference_mode()
def _log_probs(policy, df: pd.DataFrame, batch: int = 16):
    """Per completion: summed log-probability of its tokens under the policy and under the base,
    and the exact KL(policy || base) of the next-token distributions summed along it."""
    from valuelab.grpo import SharedPrefixLM, batch_tensors

    lm = SharedPrefixLM(policy.model)
    rows = df[["prompt_ids", "tokens"]].to_dict("records")
    pol, base, kl = [], [], []
    for s in range(0, len(rows), batch):
        t = batch_tensors(rows[s:s + batch], policy.tokenizer.pad_token_id)
        lp = lm.logits(**t).log_softmax(-1)
        with policy.model.disable_adapter():
            lb = lm.logits(**t).log_softmax(-1)
        mask, ids = t["completion_mask"].float(), t["completion_ids"][..., None]
        pol += (lp.gather(-1, ids).squeeze(-1) * mask).sum(1).tolist()
        base += (lb.gather(-1, ids).squeeze(-1) * mask).sum(1).tolist()
        kl += ((lp.exp() * (lp - lb)).sum(-1) * mask).sum(1).tolist()
    return pol, base, kl


def score(df: pd.DataFrame, judge, target_spec="ideal", kind: str = "masked_l1", second_judge=None) -> pd.DataFrame:
    """Add the judge's vector and distances, refusals, quality, fluency and KL columns."""
    out = df.copy()
    v = judge.score(out)
    out[[f"v_{n}" for n in NAMES]] = v
    out["distance"] = distance(v, target_spec, kind)
    out["covered"] = distance(v, target_spec, "covered")
    out["published"] = distance(v, target_spec, "masked_l1")  # BaseAlign's reward: silence scores 0
    if second_judge is not None:
        v2 = second_judge.score(out)
        out["second_distance"] = distance(v2, target_spec, kind)
        out["quality"] = np.where(out["kind"] == "benign", v2[:, NAMES.index("benevolence")], np.nan)
    out["refusal"] = out["response"].map(is_refusal)
    out["empty"] = out["response"].fillna("").str.strip() == ""
    if "base_logp" in out:
        out["fluency"] = out["base_logp"] / out["tokens"].map(len).clip(lower=1)

    return out


def bootstrap_ci(df: pd.DataFrame, column: str, n_boot: int = 2000, seed: int = 0, by: str = "prompt_id"):
    """(mean, low, high): 95% percentile bootstrap of ``column``'s mean, prompts resampled."""
    per = df.groupby(by)[column].mean().dropna().to_numpy()
    if len(per) == 0:
        return (np.nan, np.nan, np.nan)
    rng = np.random.default_rng(seed)
    boots = per[rng.integers(0, len(per), (n_boot, len(per)))].mean(1)
    return (float(per.mean()), *map(float, np.percentile(boots, [2.5, 97.5])))


def paired_difference(df: pd.DataFrame, base: pd.DataFrame, column: str = "distance", **kw):
    """(mean, low, high) of ``df[column] - base[column]`` per prompt, bootstrapped over prompts."""
    a, b = df.groupby("prompt_id")[column].mean(), base.groupby("prompt_id")[column].mean()
    both = pd.DataFrame({"d": a - b}).dropna().reset_index()
    return bootstrap_ci(both, "d", **kw)


def results_table(results: dict[str, pd.DataFrame], baseline: str = "base", **kw) -> pd.DataFrame:
    """One row per method: mean distance [95% CI], its change from ``baseline`` [95% CI], the
    second judge's distance, refusal rates on harmful and benign prompts, benign quality,
    fluency and KL. Cells are (mean, low, high) tuples; ``format_table`` renders them."""
    rows = {}
    for name, df in results.items():
        row = {"distance": bootstrap_ci(df, "distance", **kw)}
        if baseline in results and name != baseline:
            row["change"] = paired_difference(df, results[baseline], "distance", **kw)
        for col in ("covered", "published", "second_distance"):
            if col in df:
                row[col] = bootstrap_ci(df, col, **kw)
        row["harmful refusal"] = bootstrap_ci(df[df["kind"] == "harmful"], "refusal", **kw)
        row["benign refusal"] = bootstrap_ci(df[df["kind"] == "benign"], "refusal", **kw)
        for col in ("quality", "fluency", "kl"):
            if col in df and df[col].notna().any():
                row[col] = bootstrap_ci(df.dropna(subset=[col]), col, **kw)
        row["empty"] = bootstrap_ci(df, "empty", **kw)
        rows[name] = row
    return pd.DataFrame(rows).T


def format_table(table: pd.DataFrame, digits: int = 3) -> pd.DataFrame:
    """Cells as "mean [low, high]" strings."""
    def cell(x):
        if not isinstance(x, tuple):
            return ""
        m, lo, hi = x
        return f"{m:.{digits}f} [{lo:.{digits}f}, {hi:.{digits}f}]"
    return table.apply(lambda col: col.map(cell))


def mean_vectors(results: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """The judge's mean value vector of each method's responses (rows: methods)."""
    return pd.DataFrame({name: df[[f"v_{n}" for n in NAMES]].mean().to_numpy() for name, df in results.items()},
                        index=list(NAMES)).T


def side_by_side(results: dict[str, pd.DataFrame], n: int = 5, seed: int = 0) -> pd.DataFrame:
    """The same ``n`` prompts' first responses from each method, in columns."""
    first = {m: df[df["sample"] == 0].set_index("prompt_id") if "sample" in df else df.set_index("prompt_id")
             for m, df in results.items()}
    common = sorted(set.intersection(*(set(f.index) for f in first.values())))
    pick = pd.Series(common).sample(min(n, len(common)), random_state=seed).tolist()
    any_df = next(iter(first.values()))
    return pd.DataFrame({"prompt": any_df.loc[pick, "prompt"],
                         **{m: f.loc[pick, "response"] for m, f in first.items()}})
