"""The RLHF baseline: a scalar (Bradley–Terry) reward model on preference pairs, then the same RL loop.

    >>> from valuelab.rlhf import preference_pairs, RewardModel
    >>> pairs = preference_pairs(load_dataset("train"))            # the stated rule, below
    >>> rm = RewardModel.train(pairs, "runs/rm")                    # TRL RewardTrainer
    >>> grpo.train(prompts, rm.reward_function(), "runs/rlhf")     # the loop BaseAlign uses

**The preference rule** (responses to the same prompt, over their annotations): the response with
fewer violated values (-1 labels) is preferred — harmlessness first; between equally harmless
responses, the one upholding more values (+1 labels) — then helpfulness; otherwise no pair. It
does not look at any target vector: the reward model learns "safe, then value-rich", as a
human preference dataset would teach it, while BaseAlign learns the distance to a stated target.
"""
from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from valuelab import models
from valuelab.values import NAMES


def preference_pairs(df: pd.DataFrame, max_pairs_per_prompt: int = 3, seed: int = 0) -> pd.DataFrame:
    """Pairs (prompt, chosen, rejected) from annotated responses to the same prompt, by the rule
    in the module docstring; at most ``max_pairs_per_prompt`` per prompt (seeded choice)."""
    missing = {"prompt_id", "prompt", "response", *NAMES} - set(df.columns)
    if missing:
        raise ValueError(f"preference_pairs needs annotated dialogues; missing columns {sorted(missing)}")
    labels = df[list(NAMES)].to_numpy()
    key = np.stack([-(labels == -1).sum(1), (labels == 1).sum(1)], 1)  # (harmless, helpful): higher is better
    rng = np.random.default_rng(seed)
    rows = []
    for pid, idx in df.groupby("prompt_id", sort=True).indices.items():
        pairs = []
        for a, b in itertools.combinations(idx, 2):
            ka, kb = tuple(key[a]), tuple(key[b])
            if ka != kb:
                win, lose = (a, b) if ka > kb else (b, a)
                pairs.append((win, lose))
        for k in rng.permutation(len(pairs))[:max_pairs_per_prompt]:
            win, lose = pairs[k]
            rows.append({"prompt_id": pid, "prompt": df["prompt"].iloc[win], "chosen": df["response"].iloc[win],
                         "rejected": df["response"].iloc[lose]})
    return pd.DataFrame(rows, columns=["prompt_id", "prompt", "chosen", "rejected"])


def _text(prompt: str, response: str) -> str:
    return f"Human: {prompt}\nBob: {response}"


class RewardModel:
    """A sequence classifier with one output (the reward) on "Human: ... / Bob: ..." text."""

    def __init__(self, model, tokenizer, max_length: int = 256):
        self.model, self.tokenizer, self.max_length = model.eval(), tokenizer, max_length

    @classmethod
    def train(cls, pairs: pd.DataFrame, out, backbone: str = models.ENCODER, epochs: int = 1,
              max_length: int = 256, **reward_args) -> RewardModel:
        """TRL ``RewardTrainer`` (Bradley–Terry loss) on ``pairs``; saved in ``out``."""
        from datasets import Dataset
        from transformers import AutoModelForSequenceClassification, AutoTokenizer
        from trl import RewardConfig, RewardTrainer

        if pairs.empty:
            raise ValueError("no preference pairs to train the reward model on")
        path = models.resolve(backbone)
        tokenizer = AutoTokenizer.from_pretrained(path)
        model = AutoModelForSequenceClassification.from_pretrained(path, num_labels=1)
        model.config.pad_token_id = tokenizer.pad_token_id
        if tokenizer.eos_token is None:  # BERT-style encoders end with [SEP]; TRL appends an end token
            tokenizer.eos_token = tokenizer.sep_token
        data = Dataset.from_dict({"chosen": [_text(p, c) for p, c in zip(pairs["prompt"], pairs["chosen"])],
                                  "rejected": [_text(p, r) for p, r in zip(pairs["prompt"], pairs["rejected"])]})
        defaults = dict(output_dir=str(out), report_to="none", use_cpu=True, bf16=False, save_strategy="no",
                        logging_steps=10, per_device_train_batch_size=16, num_train_epochs=epochs,
                        learning_rate=5e-5, max_length=max_length)
        trainer = RewardTrainer(model=model, args=RewardConfig(**{**defaults, **reward_args}),
                                train_dataset=data, processing_class=tokenizer)
        trainer.train()
        trainer.save_model(str(out))
        tokenizer.save_pretrained(str(out))
        return cls(trainer.model, tokenizer, max_length)

    @classmethod
    def load(cls, path, max_length: int = 256) -> RewardModel:
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        if not (Path(path) / "config.json").exists():
            raise FileNotFoundError(f"{path} is not a saved reward model (no config.json)")
        return cls(AutoModelForSequenceClassification.from_pretrained(path), AutoTokenizer.from_pretrained(path),
                   max_length)

    @torch.inference_mode()
    def score(self, prompts, responses, batch_size: int = 64) -> np.ndarray:
        end = self.tokenizer.eos_token or ""  # as in training: TRL appends the end token to each text
        texts = [_text(p, r) + end for p, r in zip(prompts, responses)]
        out = []
        for s in range(0, len(texts), batch_size):
            enc = self.tokenizer(texts[s:s + batch_size], truncation=True, max_length=self.max_length,
                                 padding=True, return_tensors="pt")
            out.append(self.model(**enc).logits[:, 0].float().numpy())
        return np.concatenate(out) if out else np.zeros(0)

    def accuracy(self, pairs: pd.DataFrame) -> float:
        """Share of pairs whose chosen response scores above the rejected one."""
        chosen = self.score(pairs["prompt"], pairs["chosen"])
        return float(np.mean(chosen > self.score(pairs["prompt"], pairs["rejected"])))

    def reward_function(self):
        """The reward model in TRL's reward-function shape (for ``valuelab.grpo.train``)."""
        def rlhf_reward(prompts, completions, **_):
            return self.score(prompts, completions).tolist()
        return rlhf_reward
