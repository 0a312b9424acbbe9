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
"""
from __future__ import annotations

import numpy as np

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


def make_reward_function(judge, kind: str = "masked_l1", default_target: str = "ideal"):
    """A reward function in TRL's shape, ``f(prompts, completions, **columns) -> list[float]``.

    The judge scores each (prompt, completion) pair; the target comes from a ``target`` dataset
    column when present (a name or ten numbers per row — TRL passes dataset columns as keyword
    arguments), otherwise ``default_target``.
    """
    import pandas as pd

    def text(x):  # TRL gives strings, or chat messages for conversational datasets
        return x if isinstance(x, str) else x[-1]["content"]

    def basealign_reward(prompts, completions, target=None, **_):
        df = pd.DataFrame({"prompt": [text(p) for p in prompts], "response": [text(c) for c in completions]})
        v = judge.score(df)
        rows = target if target is not None else [default_target] * len(df)
        t = np.stack([resolve_target(r).array if isinstance(r, str) else as_array(r) for r in rows])
        return reward(v, t, kind).tolist()

    basealign_reward.__name__ = f"basealign_{kind}"
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
