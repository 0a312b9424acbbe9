"""The value judge: a dialogue in, its value vector in [-1, 1]^10 out (FULCRA order).

    >>> from valuelab.data import load_dataset
    >>> from valuelab.judge import Judge, JudgeConfig, evaluate
    >>> judge = Judge.train(load_dataset("train"), JudgeConfig(epochs=1))
    >>> judge.score(load_dataset("test"))          # (n, 10) array in [-1, 1]
    >>> judge.save("runs/judge"); Judge.load("runs/judge")
    >>> evaluate(judge, load_dataset("test"))       # per value: accuracy, macro-F1, MSE

Two modes (compared in notebook 02):
- ``vector``: one encoder pass per dialogue, a head with an output per value;
- ``pairwise``: FULCRA's evaluator — one pass per (dialogue, value) with the value's name and
  definition in the input, one output; unlabelled (0) values sampled as negatives.
Two heads: ``tanh`` (FULCRA's: tanh of a score, MSE against -1/0/+1) and ``3way``
(cross-entropy over -1/0/+1; the vector is P(+1) - P(-1)).

Input rule: "Human: <prompt>" and "Bob: <response>" as a text pair; the prompt is cut to
``prompt_tokens`` and the response fills the rest of ``max_length`` (the response carries the
values). An empty response expresses no value: its vector is all zeros, without a model call.
"""
from __future__ import annotations

import copy
import json
import math
import os
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from valuelab import models
from valuelab.values import NAMES, VALUES

MODES, HEADS = ("vector", "pairwise"), ("tanh", "3way")


@dataclass
class JudgeConfig:
    """Training settings; unknown keys and bad values are rejected (saved as ``config.json``)."""

    backbone: str = models.ENCODER
    mode: str = "vector"
    head: str = "tanh"
    max_length: int = 256
    prompt_tokens: int = 64
    epochs: int = 3
    batch_size: int = 32
    lr: float = 5e-5
    warmup_steps: int = 50
    weight_decay: float = 0.01
    zero_pairs: int = 3  # pairwise mode: unlabelled values sampled per dialogue and epoch
    max_train: int | None = None  # use at most this many training dialogues
    seed: int = 0
    bf16_train: bool = True  # bfloat16 autocast for the training forward (about a quarter faster on CPU)
    # vector mode: weight each (value, label) by (n / (3 n_label))^balance, capped at max_weight;
    # 0 = unweighted. Most labels are 0, so an unweighted judge learns to say "no value" everywhere.
    balance: float = 0.5
    max_weight: float = 20.0

    def __post_init__(self):
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {self.mode!r}")
        if self.head not in HEADS:
            raise ValueError(f"head must be one of {HEADS}, got {self.head!r}")
        if not 16 <= self.max_length <= 512 or not 0 < self.prompt_tokens < self.max_length:
            raise ValueError("need 16 <= max_length <= 512 and 0 < prompt_tokens < max_length")
        if self.epochs < 1 or self.batch_size < 1 or self.lr <= 0:
            raise ValueError("epochs and batch_size must be >= 1 and lr > 0")

    @classmethod
    def from_dict(cls, d: dict) -> JudgeConfig:
        unknown = set(d) - {f.name for f in fields(cls)}
        if unknown:
            raise ValueError(f"unknown judge setting(s) {sorted(unknown)}")
        return cls(**d)


PROFILES = {
    "smoke": JudgeConfig(max_length=96, epochs=2, max_train=128, batch_size=16, lr=1e-4, warmup_steps=2),
    "classroom": JudgeConfig(max_length=128, epochs=2, max_train=4000, lr=1e-4),  # aimed at <= 10 min on 2 cores
    # the reward judges of notebooks 04 and 05: small enough to train two in a classroom run
    "quick": JudgeConfig(max_length=96, epochs=2, max_train=1000, lr=1e-4, warmup_steps=5),
    # the whole train split; 192 tokens hold 99% of test dialogues whole (128 cut 89%). Measured
    # on 2 cores: 76 min; test macro-F1 0.532, held-out 0.406, FULCRA 0.442 (128 tokens, 2 epochs:
    # 0.520, 0.396, 0.407)
    "full": JudgeConfig(max_length=192, epochs=3, lr=1e-4),
}


class JudgeModel(torch.nn.Module):
    """Encoder, mean pooling over tokens, a linear head."""

    def __init__(self, encoder, outputs: int):
        super().__init__()
        self.encoder = encoder
        self.head = torch.nn.Linear(encoder.config.hidden_size, outputs)

    def forward(self, input_ids, attention_mask, **kw):
        hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask, **kw).last_hidden_state
        m = attention_mask.unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * m).sum(1) / m.sum(1).clamp(min=1)
        return self.head(pooled.to(self.head.weight.dtype))

    def bf16_copy(self) -> JudgeModel:
        """A copy for scoring: the encoder in bfloat16 (matrix products, attention, norms), the
        head in fp32 (bench/judge.py measures the speed and the error against fp32)."""
        fast = copy.deepcopy(self).to(torch.bfloat16)
        fast.head.float()
        return fast


def _frame(dialogues) -> pd.DataFrame:
    if isinstance(dialogues, pd.DataFrame):
        return dialogues
    if isinstance(dialogues, tuple):
        dialogues = [dialogues]
    return pd.DataFrame(list(dialogues), columns=["prompt", "response"])


class Judge:
    """A trained value judge (see the module docstring)."""

    def __init__(self, config: JudgeConfig, model: JudgeModel, tokenizer, bf16: bool = True):
        self.config, self.model, self.tokenizer = config, model.eval(), tokenizer
        self.classes = 3 if config.head == "3way" else 1
        self.bf16 = bf16  # score with a bfloat16 encoder (bench/judge.py checks the error)
        self._scorer = None
        self._weights = None  # (10, 3) loss weights while training balanced (class_weights)
        self.losses: list[float] = []  # training loss per step (saved with the judge)

    # -- inputs ---------------------------------------------------------------------------
    def _encode(self, prompts, responses, firsts=None):
        """Token ids under the input rule; ``firsts`` (pairwise) is the value description."""
        c, tok = self.config, self.tokenizer
        p_ids = tok([f"Human: {p}" for p in prompts], add_special_tokens=False, truncation=True,
                    max_length=c.prompt_tokens).input_ids
        r_ids = tok([f"Bob: {r}" for r in responses], add_special_tokens=False).input_ids
        f_ids = tok(list(firsts), add_special_tokens=False).input_ids if firsts is not None else None
        rows = []
        for k, (p, r) in enumerate(zip(p_ids, r_ids)):
            first = (f_ids[k] + [tok.sep_token_id] if f_ids else []) + p
            room = c.max_length - len(first) - 3
            rows.append([tok.cls_token_id] + first + [tok.sep_token_id] + r[:max(room, 0)] + [tok.sep_token_id])
        width = max(len(r) for r in rows)
        ids = torch.full((len(rows), width), tok.pad_token_id)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for k, r in enumerate(rows):
            ids[k, :len(r)], mask[k, :len(r)] = torch.tensor(r), 1
        return ids, mask

    def _vectors(self, raw: torch.Tensor) -> torch.Tensor:
        """Raw head outputs -> value scores in [-1, 1] (per row, or per value in pairwise mode)."""
        if self.classes == 1:
            return torch.tanh(raw.reshape(raw.shape[0], -1))
        p = torch.softmax(raw.reshape(raw.shape[0], -1, 3), -1)
        return p[..., 2] - p[..., 0]

    # -- scoring ----------------------------------------------------------------------------
    @torch.inference_mode()
    def score(self, dialogues, batch_size: int = 64) -> np.ndarray:
        """Value vectors of dialogues (a DataFrame with prompt/response, or (prompt, response)
        tuples): an (n, 10) array in [-1, 1]; empty responses score all zeros."""
        df = _frame(dialogues)
        out = np.zeros((len(df), len(VALUES)), dtype=np.float32)
        if self._scorer is None:  # built lazily, and again after training
            self._scorer = self.model.bf16_copy() if self.bf16 else self.model
        model = self._scorer
        torch.set_flush_denormal(True)  # denormals are slow on x86 and do not matter here
        try:
            self._score_into(df, out, model, batch_size)
        finally:
            torch.set_flush_denormal(False)
        return out

    def _score_into(self, df, out, model, batch_size):
        keep = [i for i, r in enumerate(df["response"]) if isinstance(r, str) and r.strip()]
        order = sorted(keep, key=lambda i: len(df["response"].iloc[i]))  # similar lengths batch together
        for s in range(0, len(order), batch_size):
            idx = order[s:s + batch_size]
            prompts, responses = df["prompt"].iloc[idx].tolist(), df["response"].iloc[idx].tolist()
            if self.config.mode == "vector":
                ids, mask = self._encode(prompts, responses)
                out[idx] = self._vectors(model(ids, mask)).float().numpy()
            else:
                firsts = [f"{v}: {v.definition}" for _ in idx for v in VALUES]
                ids, mask = self._encode([p for p in prompts for _ in VALUES],
                                         [r for r in responses for _ in VALUES], firsts)
                out[idx] = self._vectors(model(ids, mask)).reshape(len(idx), len(VALUES)).float().numpy()

    def labels(self, dialogues) -> np.ndarray:
        """-1/0/+1 per value: the nearest label to each score (|score| >= 0.5 counts)."""
        return to_labels(self.score(dialogues))

    # -- training ---------------------------------------------------------------------------
    @classmethod
    def train(cls, train: pd.DataFrame, config: JudgeConfig | None = None, progress: bool = True,
              log=None) -> Judge:
        """Fine-tune the backbone and head on labelled dialogues (``train`` has prompt,
        response and one -1/0/+1 column per value). ``log(step, loss)`` sees every step."""
        from tqdm.auto import tqdm
        from transformers import get_cosine_schedule_with_warmup

        config = config or JudgeConfig()
        torch.manual_seed(config.seed)
        rng = np.random.default_rng(config.seed)
        if config.max_train and len(train) > config.max_train:
            train = train.sample(config.max_train, random_state=config.seed)
        encoder, tokenizer = models.load_encoder(config.backbone)
        classes = 3 if config.head == "3way" else 1
        outputs = classes * (len(VALUES) if config.mode == "vector" else 1)
        judge = cls(config, JudgeModel(encoder, outputs), tokenizer)
        judge.model.train()
        judge._weights = class_weights(train, config.balance, config.max_weight) \
            if config.mode == "vector" and config.balance else None
        examples = judge._examples(train, rng)
        steps = config.epochs * math.ceil(len(examples[0]) / config.batch_size)
        opt = torch.optim.AdamW(judge.model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
        sched = get_cosine_schedule_with_warmup(opt, min(config.warmup_steps, steps // 10 + 1), steps)
        bar = tqdm(total=steps, desc="train judge", disable=not progress)
        step = 0
        for epoch in range(config.epochs):
            prompts, responses, firsts, targets = judge._examples(train, rng) if epoch else examples
            order = rng.permutation(len(prompts))
            for s in range(0, len(order), config.batch_size):
                idx = order[s:s + config.batch_size].tolist()
                ids, mask = judge._encode([prompts[i] for i in idx], [responses[i] for i in idx],
                                          [firsts[i] for i in idx] if firsts else None)
                with torch.autocast("cpu", dtype=torch.bfloat16, enabled=config.bf16_train):
                    raw = judge.model(ids, mask)
                loss = judge._loss(raw.float(), torch.tensor(np.stack([targets[i] for i in idx])))
                loss.backward()
                torch.nn.utils.clip_grad_norm_(judge.model.parameters(), 1.0)
                opt.step(), sched.step(), opt.zero_grad()
                step += 1
                bar.update(1)
                judge.losses.append(loss.item())
                bar.set_postfix(loss=f"{judge.losses[-1]:.3f}")
                if log:
                    log(step, judge.losses[-1])
        bar.close()
        judge.model.eval()
        judge._scorer = None
        return judge

    def _examples(self, df: pd.DataFrame, rng):
        """(prompts, responses, value descriptions or None, targets) for one epoch."""
        labels = df[list(NAMES)].to_numpy(dtype=np.int64)
        prompts, responses = df["prompt"].tolist(), df["response"].fillna("").tolist()
        if self.config.mode == "vector":
            return prompts, responses, None, list(labels)
        P, R, F, T = [], [], [], []
        for p, r, row in zip(prompts, responses, labels):
            nonzero = np.flatnonzero(row)
            zeros = np.flatnonzero(row == 0)
            chosen = list(nonzero) + list(rng.choice(zeros, min(self.config.zero_pairs, len(zeros)), replace=False))
            for j in chosen:
                P.append(p), R.append(r), F.append(f"{VALUES[j]}: {VALUES[j].definition}"), T.append(row[j:j + 1])
        return P, R, F, T

    def _loss(self, raw: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """MSE of tanh (or cross-entropy over -1/0/+1), each element weighted by its (value,
        label) weight when training is balanced; weighted means, so the scale stays comparable."""
        w = torch.ones(target.shape) if self._weights is None else \
            self._weights[torch.arange(target.shape[1]), target + 1]
        if self.classes == 1:
            per = (torch.tanh(raw) - target.float()) ** 2
        else:
            per = torch.nn.functional.cross_entropy(raw.reshape(-1, 3), (target + 1).reshape(-1),
                                                    reduction="none").reshape(target.shape)
        return (per * w).sum() / w.sum()

    # -- saving -----------------------------------------------------------------------------
    def save(self, path) -> Path:
        """Write config.json, the encoder (transformers folder), the tokenizer, the training losses
        and head.pt."""
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        (path / "config.json").write_text(json.dumps(asdict(self.config), indent=1))
        self.model.encoder.save_pretrained(path / "encoder")
        self.tokenizer.save_pretrained(path / "encoder")
        (path / "losses.json").write_text(json.dumps(self.losses))
        torch.save(self.model.head.state_dict(), path / "head.pt")  # last: its presence marks a complete judge
        return path

    @classmethod
    def load(cls, path, bf16: bool = True) -> Judge:
        from transformers import AutoModel, AutoTokenizer

        path = Path(path)
        if not (path / "config.json").exists():
            raise FileNotFoundError(f"{path} is not a saved judge (no config.json)")
        config = JudgeConfig.from_dict(json.loads((path / "config.json").read_text()))
        encoder = AutoModel.from_pretrained(path / "encoder").eval()
        head = torch.load(path / "head.pt", weights_only=True)
        model = JudgeModel(encoder, head["weight"].shape[0])
        model.head.load_state_dict(head)
        judge = cls(config, model, AutoTokenizer.from_pretrained(path / "encoder"), bf16=bf16)
        if (path / "losses.json").exists():
            judge.losses = json.loads((path / "losses.json").read_text())
        return judge


def class_weights(train: pd.DataFrame, balance: float = 0.5, max_weight: float = 20.0) -> torch.Tensor:
    """(10, 3) loss weights per value and label -1/0/+1: (n / (3 n_label))^balance, capped at
    ``max_weight`` (labels absent from ``train`` get the cap)."""
    y = train[list(NAMES)].to_numpy(dtype=int)
    counts = np.stack([(y == c).sum(0) for c in (-1, 0, 1)], axis=1).astype(float)
    w = np.where(counts > 0, (len(y) / (3 * np.maximum(counts, 1))) ** balance, max_weight)
    return torch.tensor(np.minimum(w, max_weight), dtype=torch.float32)


def to_labels(scores: np.ndarray) -> np.ndarray:
    """Scores in [-1, 1] -> nearest label -1/0/+1 (|score| >= 0.5 counts as expressed)."""
    return (np.sign(scores) * (np.abs(scores) >= 0.5)).astype(int)


def evaluate(scores, df: pd.DataFrame) -> pd.DataFrame:
    """Per value: accuracy, 3-class macro-F1 and MSE of ``scores`` (a judge, or an (n, 10)
    array) against ``df``'s labels; a last row ``mean`` averages over the values."""
    from sklearn.metrics import accuracy_score, f1_score

    s = scores.score(df) if isinstance(scores, Judge) else np.asarray(scores, dtype=float)
    y = df[list(NAMES)].to_numpy(dtype=int)
    pred = to_labels(s)
    rows = {v: {"accuracy": accuracy_score(y[:, j], pred[:, j]),
                "macro_f1": f1_score(y[:, j], pred[:, j], labels=[-1, 0, 1], average="macro", zero_division=0),
                "mse": float(np.mean((s[:, j] - y[:, j]) ** 2))} for j, v in enumerate(NAMES)}
    table = pd.DataFrame(rows).T
    table.loc["mean"] = table.mean()
    return table


# --- baselines ------------------------------------------------------------------------------
@torch.inference_mode()
def embed(dialogues, backbone: str = models.ENCODER, batch_size: int = 64, max_length: int = 128) -> np.ndarray:
    """Frozen mean-pooled encoder embeddings of "Human: ... / Bob: ..." pairs (for baselines)."""
    df = _frame(dialogues)
    encoder, tok = models.load_encoder(backbone)
    out = []
    for s in range(0, len(df), batch_size):
        part = df.iloc[s:s + batch_size]
        enc = tok([f"Human: {p}" for p in part["prompt"]], [f"Bob: {r}" for r in part["response"].fillna("")],
                  padding=True, truncation="longest_first", max_length=max_length, return_tensors="pt")
        h = encoder(**enc).last_hidden_state
        m = enc["attention_mask"].unsqueeze(-1).float()
        out.append(((h * m).sum(1) / m.sum(1)).numpy())
    return np.concatenate(out) if out else np.zeros((0, encoder.config.hidden_size))


class EmbeddingLogistic:
    """Baseline: one logistic regression per value (-1/0/+1) on frozen embeddings; its vector is
    P(+1) - P(-1)."""

    def __init__(self, train: pd.DataFrame, embeddings: np.ndarray | None = None):
        from sklearn.linear_model import LogisticRegression

        X = embed(train) if embeddings is None else embeddings
        self.models = {}
        for v in NAMES:
            y = train[v].to_numpy()
            self.models[v] = LogisticRegression(max_iter=2000, class_weight="balanced").fit(X, y) \
                if len(set(y)) > 1 else int(y[0])

    def score(self, dialogues, embeddings: np.ndarray | None = None) -> np.ndarray:
        X = embed(dialogues) if embeddings is None else embeddings
        out = np.zeros((len(X), len(NAMES)))
        for j, v in enumerate(NAMES):
            m = self.models[v]
            if isinstance(m, int):
                out[:, j] = m
                continue
            p = dict(zip(m.classes_, m.predict_proba(X).T))
            out[:, j] = p.get(1, 0) - p.get(-1, 0)
        return out


def compare(scorers: dict, df: pd.DataFrame, metric: str = "macro_f1") -> pd.DataFrame:
    """One ``metric`` per value (rows) for several scorers (columns): each a Judge, an (n, 10)
    array, or a callable returning one; plus the ``mean`` row."""
    cols = {}
    for name, s in scorers.items():
        scores = s(df) if callable(s) and not isinstance(s, Judge) else s
        cols[name] = evaluate(scores, df)[metric]
    return pd.DataFrame(cols)


def calibration_curve(scores: np.ndarray, df: pd.DataFrame, bins: int = 10) -> pd.DataFrame:
    """Mean true label per bin of predicted score, over all (dialogue, value) pairs."""
    s = np.asarray(scores, dtype=float).ravel()
    y = df[list(NAMES)].to_numpy(dtype=float).ravel()
    edges = np.linspace(-1, 1, bins + 1)
    which = np.clip(np.digitize(s, edges) - 1, 0, bins - 1)
    rows = [{"bin_centre": (edges[b] + edges[b + 1]) / 2, "mean_score": s[which == b].mean(),
             "mean_label": y[which == b].mean(), "n": int((which == b).sum())}
            for b in range(bins) if (which == b).any()]
    return pd.DataFrame(rows)


def fraction_of(df: pd.DataFrame, fraction: float, seed: int = 0) -> pd.DataFrame:
    """A seeded share of ``df``'s prompts with all their dialogues (BaseAlign's "one fifth of
    the data": whole prompts, so preference pairs built on the same share stay inside it)."""
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}")
    if fraction == 1:
        return df
    key = "prompt_id" if "prompt_id" in df else "prompt"
    prompts = pd.Series(df[key].unique()).sample(frac=1, random_state=seed)
    keep = set(prompts.iloc[:max(1, round(len(prompts) * fraction))])
    return df[df[key].isin(keep)]


def cached(train: pd.DataFrame, config: JudgeConfig | str = "classroom", progress: bool = True,
           wait: float = 6 * 3600, rank: int | None = None) -> Judge:
    """A judge trained on ``train`` with ``config`` (or a profile name), trained once and kept
    in ``$VALUELAB_CACHE/judges/<hash of settings and data>``: notebooks 04 and 05 reuse the
    judge they need without retraining it on every run. Under torchrun / accelerate only local
    rank 0 trains; the other ranks wait (up to ``wait`` seconds) and load its judge (``rank``
    defaults to ``$LOCAL_RANK``)."""
    import hashlib
    import shutil

    config = PROFILES[config] if isinstance(config, str) else config
    cols = ["prompt", "response", *NAMES]
    digest = hashlib.sha256(json.dumps(asdict(config), sort_keys=True).encode()
                            + pd.util.hash_pandas_object(train[cols], index=False).values.tobytes())
    path = models.cache_dir() / "judges" / digest.hexdigest()[:16]
    rank = int(os.environ.get("LOCAL_RANK", "0")) if rank is None else rank

    def complete():  # (judges cached by older versions lack losses.json: retrained)
        return (path / "head.pt").exists() and (path / "losses.json").exists()

    if rank != 0:  # data-parallel runs: local rank 0 trains, the rest wait
        deadline = time.monotonic() + wait
        while not complete():
            if time.monotonic() > deadline:
                raise TimeoutError(f"judge cache {path} did not appear within {wait:.0f} s (is local rank 0 running?)")
            time.sleep(1)
    if complete():
        judge = Judge.load(path)
        judge.cache_key = path.name
        return judge
    judge = Judge.train(train, config, progress=progress)
    judge.cache_key = path.name  # names the data and settings: runs rewarded by it can say so
    tmp = path.with_name(path.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    judge.save(tmp)
    shutil.rmtree(path, ignore_errors=True)
    tmp.rename(path)
    return judge
