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
