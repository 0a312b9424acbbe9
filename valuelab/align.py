"""BaseAlign: rewards that pull a model's value vectors toward a target.

    >>> from valuelab.align import reward, make_reward_function
    >>> reward(judge_vectors, "ideal")                          # BaseAlign's published reward
    >>> reward(judge_vectors, "ideal", kind="covered")          # the loophole closed
    >>> fn = make_reward_function(judge)   # a TRL reward function; target rides in a dataset column

Where the reward is computed, in one place:
- ``masked_l1`` — BaseAlign as published: ``-sum_i |v_i - t_i| * [|v_i| > 0.3] * |t_i|``. Values the
  judge reads as "no connection" are masked out, so a response that expresses **no value at all**
  has distance 0 and earns the maximal reward: a specification-gaming route.
- ``covered`` — closes that route: every value the target cares about counts whether or not the
  response expresses it, ``-sum_i |t_i| * |v_i - t_i|``; silence costs ``sum_i t_i^2``.
- ``l2`` — ``-||v - t||``.

Three ways to align toward a target share the judge and the reward: online RL (``grpo_train``
through TRL, or ``valuelab.grpo``, the CPU-fast loop), DPO on judge-ranked pairs (``dpo_pairs``,
``dpo_train``), and inference time (``best_of_n``, ``map_reweight``). The RLHF baseline is in
``valuelab.rlhf``; evaluation in ``valuelab.evaluate``.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from valuelab.values import as_array, basealign_distance, l2_distance
from valuelab.values import target as resolve_target

KINDS = ("masked_l1", "covered", "l2")


def distance(vectors, target_vector, kind: str = "masked_l1") -> np.ndarray:
    """Distance of judge vectors (n, 10) to a target (name, vector, or (n, 10) per-row targets)."""
    v = np.atleast_2d(as_array(vectors, name="judge vectors"))
    if isinstance(target_vector, str):
        t = resolve_target(target_vector).array
    else:
        t = as_array(target_vector, name="target")
    if kind == "masked_l1":
        return np.atleast_1d(basealign_distance(v, t))
    if kind == "covered":
        return (np.abs(t) * np.abs(v - t)).sum(axis=-1)
    if kind == "l2":
        return np.atleast_1d(l2_distance(v, t))
    raise ValueError(f"unknown reward kind {kind!r}; choose from {KINDS}")


def reward(vectors, target_vector, kind: str = "masked_l1") -> np.ndarray:
    """Reward = minus the distance (higher is closer to the target)."""
    return -distance(vectors, target_vector, kind)


def make_reward_function(judge, kind: str = "masked_l1", default_target: str = "ideal",
                         away=None, away_weight: float = 0.0):
    """A reward function in TRL's shape, ``f(prompts, completions, **columns) -> list[float]``.

    The judge scores each (prompt, completion) pair; the target comes from a ``target`` dataset
    column when present (a name or ten numbers per row — TRL passes dataset columns as keyword
    arguments), otherwise ``default_target``.

    ``away`` (a target name or vector) with ``away_weight`` w > 0 makes the reward contrastive,
    ``-d(v, target) + w * d(v, away)``: toward the target and away from another profile — for
    two nearby targets (two countries), whose plain rewards pull a policy toward both.
    """
    if away_weight < 0:
        raise ValueError(f"away_weight must be >= 0, got {away_weight}")
    away_vector = None
    if away is not None and away_weight > 0:
        away_vector = resolve_target(away).array if isinstance(away, str) else as_array(away, name="away target")

    def text(x):  # TRL gives strings, or chat messages for conversational datasets
        return x if isinstance(x, str) else x[-1]["content"]

    def basealign_reward(prompts, completions, target=None, **_):
        df = pd.DataFrame({"prompt": [text(p) for p in prompts], "response": [text(c) for c in completions]})
        v = judge.score(df)
        rows = target if target is not None else [default_target] * len(df)
        t = np.stack([resolve_target(r).array if isinstance(r, str) else as_array(r) for r in rows])
        r = reward(v, t, kind)
        if away_vector is not None:
            r = r + away_weight * distance(v, away_vector, kind)
        return r.tolist()

    basealign_reward.__name__ = f"basealign_{kind}" + ("_contrast" if away_vector is not None else "")
    return basealign_reward


# --- (a) online RL with LoRA through TRL ----------------------------------------------------
def prompt_dataset(prompts, target_spec="ideal"):
    """A ``datasets.Dataset`` of conversational prompts with a per-row ``target`` column (a name
    or ten numbers), the shape TRL's online trainers read."""
    from datasets import Dataset

    texts = list(prompts["text"] if hasattr(prompts, "columns") else prompts)
    targets = [target_spec] * len(texts) if isinstance(target_spec, str) or len(target_spec) == 10 \
        and not isinstance(target_spec[0], (list, tuple, str)) else list(target_spec)
    targets = [t if isinstance(t, str) else list(map(float, t)) for t in targets]
    return Dataset.from_dict({"prompt": [[{"role": "user", "content": t}] for t in texts], "target": targets})


def grpo_train(dataset, judge, out, policy: str = "smollm2-135m-instruct", kind: str = "masked_l1",
               lora_r: int = 8, lora_alpha: int = 16, **grpo_args):
    """BaseAlign with TRL's GRPOTrainer: LoRA on the policy, the judge's reward, the per-row
    target from the dataset. ``grpo_args`` go to ``trl.GRPOConfig``; returns the trainer."""
    from peft import LoraConfig
    from trl import GRPOConfig, GRPOTrainer

    from valuelab.models import load_chat_model

    model, tokenizer = load_chat_model(policy)
    defaults = dict(output_dir=str(out), report_to="none", use_cpu=True, logging_steps=1, save_strategy="no",
                    num_generations=4, per_device_train_batch_size=4, max_completion_length=48,
                    learning_rate=1e-5, max_steps=1, temperature=1.0)
    config = GRPOConfig(**{**defaults, **grpo_args})
    lora = LoraConfig(r=lora_r, lora_alpha=lora_alpha, target_modules=["q_proj", "k_proj", "v_proj", "o_proj"],
                      task_type="CAUSAL_LM")
    tokenizer.padding_side = "left"
    trainer = GRPOTrainer(model=model, reward_funcs=[make_reward_function(judge, kind)], args=config,
                          train_dataset=dataset, processing_class=tokenizer, peft_config=lora)
    trainer.train()
    return trainer


# --- (c) inference time: best-of-N and MAP-style reweighting --------------------------------
def best_of_n(samples: pd.DataFrame, judge, target_spec="ideal", kind: str = "masked_l1") -> pd.DataFrame:
    """Per prompt, the sample closest to the target. ``samples``: prompt_id, prompt, response
    (``n`` rows per prompt, e.g. from ``Policy.sample``); adds ``reward``."""
    scored = _scored(samples, judge, target_spec, kind)
    return scored.loc[scored.groupby("prompt_id")["reward"].idxmax()].reset_index(drop=True)


def map_reweight(samples: pd.DataFrame, judge, target_spec="ideal", kind: str = "masked_l1",
                 lam: float = 5.0, seed: int = 0) -> pd.DataFrame:
    """MAP-style alignment at inference time: draw one of each prompt's ``n`` samples with
    probability proportional to ``exp(lam * reward)`` — importance resampling from the policy
    tilted by the reward (``lam`` 0: the policy itself; large ``lam``: best-of-N)."""
    scored = _scored(samples, judge, target_spec, kind)
    rng = np.random.default_rng(seed)
    rows = []
    for _, g in scored.groupby("prompt_id", sort=False):
        w = np.exp(lam * (g["reward"].to_numpy() - g["reward"].max()))
        rows.append(g.index[rng.choice(len(g), p=w / w.sum())])
    return scored.loc[rows].reset_index(drop=True)


def _scored(samples: pd.DataFrame, judge, target_spec, kind) -> pd.DataFrame:
    missing = {"prompt_id", "prompt", "response"} - set(samples.columns)
    if missing:
        raise ValueError(f"samples need columns prompt_id, prompt, response; missing {sorted(missing)}")
    out = samples.reset_index(drop=True).copy()
    out["reward"] = reward(judge.score(out), target_spec, kind)
    return out


# --- (b) DPO on judge-ranked pairs ------------------------------------------------------------
def dpo_pairs(samples: pd.DataFrame, judge, target_spec="ideal", kind: str = "masked_l1",
              min_gap: float = 1e-6) -> pd.DataFrame:
    """Per prompt, the sample closest to the target (chosen) and the farthest (rejected); prompts
    whose samples all score alike (gap below ``min_gap``) give no pair."""
    scored = _scored(samples, judge, target_spec, kind)
    rows = []
    for pid, g in scored.groupby("prompt_id", sort=False):
        best, worst = g.loc[g["reward"].idxmax()], g.loc[g["reward"].idxmin()]
        if best["reward"] - worst["reward"] >= min_gap:
            rows.append({"prompt_id": pid, "prompt": best["prompt"], "chosen": best["response"],
                         "rejected": worst["response"], "gap": best["reward"] - worst["reward"]})
    return pd.DataFrame(rows, columns=["prompt_id", "prompt", "chosen", "rejected", "gap"])


def dpo_train(pairs: pd.DataFrame, out, policy: str = "smollm2-135m-instruct", lora_r: int = 8,
              lora_alpha: int = 16, **dpo_args):
    """DPO (TRL ``DPOTrainer``) with LoRA on judge-ranked pairs; the adapter is saved in
    ``out/adapter`` (load it with ``valuelab.grpo.load_policy``). Returns the trainer."""
    from datasets import Dataset
    from peft import LoraConfig
    from trl import DPOConfig, DPOTrainer

    from valuelab.models import load_chat_model

    if pairs.empty:
        raise ValueError("no preference pairs to train on")
    model, tokenizer = load_chat_model(policy)
    data = Dataset.from_dict({
        "prompt": [[{"role": "user", "content": p}] for p in pairs["prompt"]],
        "chosen": [[{"role": "assistant", "content": c}] for c in pairs["chosen"]],
        "rejected": [[{"role": "assistant", "content": r}] for r in pairs["rejected"]]})
    defaults = dict(output_dir=str(out), report_to="none", use_cpu=True, bf16=False, logging_steps=5,
                    save_strategy="no", per_device_train_batch_size=8, learning_rate=5e-5,
                    num_train_epochs=1, max_length=256)
    lora = LoraConfig(r=lora_r, lora_alpha=lora_alpha, target_modules=["q_proj", "k_proj", "v_proj", "o_proj"],
                      task_type="CAUSAL_LM")
    trainer = DPOTrainer(model=model, args=DPOConfig(**{**defaults, **dpo_args}), train_dataset=data,
                         processing_class=tokenizer, peft_config=lora)
    trainer.train()
    trainer.model.save_pretrained(str(Path(out) / "adapter"))
    return trainer
