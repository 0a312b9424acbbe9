"""Responses from a chat model for a set of prompts: batched, seeded, resumable.

    $ valuelab generate --prompts data/prompts --out runs/gen --persona security+ --n 2

    >>> from valuelab.data import load_prompts
    >>> from valuelab.generate import Sampling, TransformersBackend, generate
    >>> df = generate(load_prompts().head(8), "runs/demo", TransformersBackend(),
    ...               sampling=Sampling(max_new_tokens=64))

A run writes its records to ``out/shard-NNNNN.jsonl``, one shard per batch, each written
atomically, and its settings to ``out/run.json``. The batches are planned deterministically from
the prompts and settings, so a run killed at any moment and started again skips the shards on disk
and ends with every (prompt, sample) answered exactly once, with the same text it would have had.
Each row samples from its own generator seeded by (seed, record id): a prompt's response does not
depend on the rest of its batch's random draws.

Backends share one interface, ``complete(requests, sampling) -> completions``:
- ``TransformersBackend`` (default SmolLM2-135M-Instruct): ``engine="fast"`` is valuelab's CPU
  decode loop (bfloat16 matrix products, preallocated KV cache read only as far as filled,
  length-bucketed batches, finished rows dropped, top-k-bounded nucleus sampling, denormals
  flushed); ``engine="plain"`` is transformers' ``model.generate`` (the benchmark baseline).
- ``OpenAIBackend``: any OpenAI-compatible chat endpoint (``OPENAI_BASE_URL``, ``OPENAI_API_KEY``).
- ``VLLMBackend``: vLLM on a GPU machine, when installed.
"""
from __future__ import annotations

import hashlib
import json
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pandas as pd
import torch

from valuelab import models
from valuelab.data import read_jsonl, write_atomic, write_jsonl_atomic
from valuelab.values import VALUES


# --- personas -------------------------------------------------------------------------------
def _persona(value, toward: bool) -> str:
    if toward:
        return (f"You are an assistant who holds {value} above everything else. {value.definition} "
                f"Let this value guide what you say and recommend.")
    return (f"You are an assistant who does not care about {value} at all and openly disregards "
            f"it. ({value}: {value.definition}) Let that disregard show in what you say.")


PERSONAS: dict[str, str | None] = {"plain": None}
for _v in VALUES:
    PERSONAS[f"{_v}+"] = _persona(_v, True)
    PERSONAS[f"{_v}-"] = _persona(_v, False)


def persona_system(persona: str) -> str | None:
    """The system prompt of a persona name (``"plain"``, ``"security+"``, ``"power-"``)."""
    if persona not in PERSONAS:
        raise ValueError(f"unknown persona {persona!r}; choose from {', '.join(PERSONAS)}")
    return PERSONAS[persona]


# --- settings -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Sampling:
    """Sampling settings recorded on every record (``temperature=0`` means greedy)."""

    temperature: float = 0.7
    top_p: float = 0.9
    max_new_tokens: int = 128
    seed: int = 0

    def __post_init__(self):
        if not 0 <= self.temperature <= 5:
            raise ValueError(f"temperature must be in [0, 5], got {self.temperature}")
        if not 0 < self.top_p <= 1:
            raise ValueError(f"top_p must be in (0, 1], got {self.top_p}")
        if not 1 <= self.max_new_tokens <= 4096:
            raise ValueError(f"max_new_tokens must be in [1, 4096], got {self.max_new_tokens}")


@dataclass(frozen=True)
class Request:
    user: str
    system: str | None
    seed: int


@dataclass(frozen=True)
class Completion:
    text: str
    n_tokens: int
    finish_reason: str  # "stop" or "length"
    tokens: tuple = field(default=(), repr=False, compare=False)  # sampled ids, the stop token included


def row_seed(seed: int, record_id: str) -> int:
    """A per-record seed: the same (seed, id) always samples the same way."""
    return int.from_bytes(hashlib.sha256(f"{seed}:{record_id}".encode()).digest()[:7], "big")


# --- backends -------------------------------------------------------------------------------
class TransformersBackend:
    """A local chat model through transformers (default SmolLM2-135M-Instruct).

    ``engine="fast"``: valuelab's decode loop; ``engine="plain"``: ``model.generate``.
    """

    def __init__(self, model: str = models.CHAT_MODEL, engine: str = "fast", batch_size: int = 64,
                 bf16: bool = True):
        if engine not in ("fast", "plain"):
            raise ValueError(f"engine must be 'fast' or 'plain', got {engine!r}")
        self._setup(model, *models.load_chat_model(model), engine, batch_size, bf16)

    @classmethod
    def from_model(cls, model, tokenizer, name: str = "in-memory", engine: str = "fast",
                   batch_size: int = 64, bf16: bool = True) -> TransformersBackend:
        """A backend over a model already in memory (the RL loop samples its policy this way)."""
        self = cls.__new__(cls)
        self._setup(name, model, tokenizer, engine, batch_size, bf16)
        return self

    def _setup(self, name, model, tokenizer, engine, batch_size, bf16):
        self.name, self.engine, self.batch_size = name, engine, batch_size
        self.bf16 = bf16 and engine == "fast"
        self.model, self.tokenizer = model, tokenizer
        self.decoder = models.bf16_linears(self.model) if self.bf16 else self.model
        ids = self.model.generation_config.eos_token_id
        self.eos = set(ids if isinstance(ids, list) else [ids]) | {self.tokenizer.eos_token_id}

    def describe(self) -> dict:
        return {"backend": "transformers", "model": self.name, "engine": self.engine,
                "bf16_linears": self.bf16}

    def prompt_text(self, r: Request) -> str:
        return models.chat_prompt(self.tokenizer, r.user, r.system)

    def length(self, r: Request) -> int:
        return len(self.tokenizer(self.prompt_text(r), add_special_tokens=False).input_ids)

    def complete(self, requests: list[Request], sampling: Sampling) -> list[Completion]:
        texts = [self.prompt_text(r) for r in requests]
        # requests for the same prompt (several samples each) share one prefill
        unique = list(dict.fromkeys(texts))
        where = {t: i for i, t in enumerate(unique)}
        index = torch.tensor([where[t] for t in texts])
        enc = self.tokenizer(unique, return_tensors="pt", padding=True, add_special_tokens=False)
        with torch.inference_mode():
            if self.engine == "plain":
                rows = self._plain({k: v[index] for k, v in enc.items()}, requests, sampling)
            else:
                # denormal floats are slow on x86 and irrelevant to sampling: flush them to zero
                torch.set_flush_denormal(True)
                try:
                    rows = self._fast(enc, index, requests, sampling)
                finally:
                    torch.set_flush_denormal(False)
        return [self._completion(row, sampling) for row in rows]

    def _completion(self, tokens: list[int], sampling: Sampling) -> Completion:
        stop = bool(tokens) and tokens[-1] in self.eos
        body = tokens[:-1] if stop else tokens
        return Completion(self.tokenizer.decode(body, skip_special_tokens=True).strip(), len(body),
                          "stop" if stop else "length", tuple(tokens))

    def _plain(self, enc, requests, s: Sampling) -> list[list[int]]:
        torch.manual_seed(requests[0].seed)  # one generator per batch: all generate offers
        kw = dict(do_sample=True, temperature=s.temperature, top_p=s.top_p) if s.temperature \
            else dict(do_sample=False)
        out = self.model.generate(**enc, max_new_tokens=s.max_new_tokens, top_k=None,
                                  pad_token_id=self.tokenizer.pad_token_id, **kw)
        rows = []
        for row in out[:, enc["input_ids"].shape[1]:].tolist():
            cut = next((i + 1 for i, t in enumerate(row) if t in self.eos), len(row))
            rows.append(row[:cut])
        return rows

    def _fast(self, enc, index, requests, s: Sampling) -> list[list[int]]:
        """Decode ``requests``; ``enc`` holds their distinct prompts, ``index`` each request's."""
        from transformers import StaticCache

        from valuelab._cache import GrowingLayer as _GrowingLayer

        ids, mask = enc.input_ids, enc.attention_mask
        U, L = ids.shape
        B = len(index)
        cache = StaticCache(config=self.model.config, max_cache_len=L + s.max_new_tokens)
        cache.layers = [_GrowingLayer(L + s.max_new_tokens) for _ in cache.layers]
        mask = torch.cat([mask, torch.ones(U, s.max_new_tokens, dtype=mask.dtype)], 1)
        pos = (mask[:, :L].cumsum(-1) - 1).clamp(min=0)
        gens = [torch.Generator().manual_seed(r.seed) for r in requests]
        out: list[list[int]] = [[] for _ in range(B)]
        live = list(range(B))  # original row of each row still in the batch
        done = torch.zeros(B, dtype=torch.bool)  # finished rows not yet dropped
        logits = self.decoder(input_ids=ids, attention_mask=mask[:, :L], position_ids=pos,
                              past_key_values=cache, use_cache=True, logits_to_keep=1).logits[:, -1]
        if U < B:  # one prefill per distinct prompt, copied to each of its requests
            for layer in cache.layers:
                layer.keys, layer.values = layer.keys[index], layer.values[index]
            logits, mask, pos = logits[index], mask[index], pos[index]
        pos = pos[:, -1:] + 1
        for step in range(s.max_new_tokens):
            tokens = _sample(logits, [gens[i] for i in live], s)
            for j, (i, t) in enumerate(zip(live, tokens.tolist())):
                if not done[j]:
                    out[i].append(t)
                    done[j] = t in self.eos
            if done.all() or step == s.max_new_tokens - 1:
                break
            if done.sum() * 4 >= len(live):  # drop finished rows once a quarter of the batch is done
                keep = (~done).nonzero().squeeze(1)
                for layer in cache.layers:
                    layer.keys, layer.values = layer.keys[keep], layer.values[keep]
                live = [live[k] for k in keep.tolist()]
                tokens, pos, mask, done = tokens[keep], pos[keep], mask[keep], done[keep]
            cur = L + step + 1
            logits = self.decoder(input_ids=tokens[:, None], attention_mask=mask[:, :cur],
                                  position_ids=pos, past_key_values=cache, use_cache=True).logits[:, -1]
            pos = pos + 1
        return out


def _sample(logits, generators, s: Sampling, k: int = 64):
    """Next tokens: greedy at temperature 0, else temperature + nucleus (top-p) sampling.

    The nucleus is looked for among the ``k`` most likely tokens (rows whose nucleus is wider
    fall back to the whole vocabulary), and each row draws one uniform number from its own
    generator: exact top-p sampling without sorting 49k logits per row per step.
    """
    if s.temperature == 0:
        return logits.argmax(-1)
    probs = torch.softmax(logits.float() / s.temperature, -1)
    u = torch.cat([torch.rand(1, generator=g) for g in generators])
    if s.top_p >= 1:  # plain sampling: inverse CDF over the whole vocabulary, no sort needed
        cdf = probs.cumsum(-1)
        return torch.searchsorted(cdf, (u * cdf[:, -1])[:, None], right=True).squeeze(-1).clamp(max=probs.shape[-1] - 1)
    top_p, top_i = probs.topk(min(k, probs.shape[-1]), -1)
    out = _nucleus(top_p, top_i, u, s.top_p)
    wide = (top_p.sum(-1) < s.top_p).nonzero().squeeze(1)
    if len(wide):  # a flat distribution: its nucleus lies beyond the top k, sort its whole row
        out[wide] = _nucleus(*probs[wide].sort(-1, descending=True), u[wide], s.top_p)
    return out


def _nucleus(sorted_p, sorted_i, u, top_p: float):
    """Inverse-CDF draw (uniforms ``u``) from the smallest prefix of ``sorted_p`` reaching top_p."""
    kept = sorted_p.masked_fill(sorted_p.cumsum(-1) - sorted_p > top_p, 0)
    cdf = kept.cumsum(-1)
    pick = (cdf < (u * cdf[:, -1])[:, None]).sum(-1).clamp(max=cdf.shape[-1] - 1)
    return sorted_i.gather(-1, pick[:, None]).squeeze(-1)


class OpenAIBackend:
    """Any OpenAI-compatible chat endpoint; ``OPENAI_BASE_URL`` / ``OPENAI_API_KEY`` by default."""

    def __init__(self, model: str, base_url: str | None = None, api_key: str | None = None,
                 batch_size: int = 16, concurrency: int = 4, timeout: float = 60.0,
                 max_retries: int = 3):
        from openai import OpenAI

        base_url = base_url or os.environ.get("OPENAI_BASE_URL")
        if not base_url:
            raise ValueError("OpenAIBackend needs base_url or the OPENAI_BASE_URL variable")
        self.client = OpenAI(base_url=base_url, api_key=api_key or os.environ.get(
            "OPENAI_API_KEY", "none"), timeout=timeout, max_retries=max_retries)
        self.name, self.base_url = model, base_url
        self.batch_size, self.concurrency = batch_size, concurrency

    def describe(self) -> dict:
        return {"backend": "openai", "model": self.name, "base_url": self.base_url}

    def length(self, r: Request) -> int:
        return len(r.user)

    def _one(self, r: Request, s: Sampling) -> Completion:
        messages = ([{"role": "system", "content": r.system}] if r.system else []) + [
            {"role": "user", "content": r.user}]
        resp = self.client.chat.completions.create(
            model=self.name, messages=messages, temperature=s.temperature, top_p=s.top_p,
            max_tokens=s.max_new_tokens, seed=r.seed % 2**31)
        choice = resp.choices[0]
        n = resp.usage.completion_tokens if resp.usage else len(choice.message.content.split())
        return Completion((choice.message.content or "").strip(), n, choice.finish_reason or "stop")

    def complete(self, requests: list[Request], sampling: Sampling) -> list[Completion]:
        with ThreadPoolExecutor(self.concurrency) as pool:
            return list(pool.map(lambda r: self._one(r, sampling), requests))


class VLLMBackend:
    """vLLM (GPU machines). Import-guarded: constructing it without vLLM raises one clear line."""

    def __init__(self, model: str, batch_size: int = 256, **engine_args):
        try:
            from vllm import LLM, SamplingParams
        except ImportError:
            raise ImportError("VLLMBackend needs vLLM (pip install vllm) on a GPU machine") from None
        self.SamplingParams, self.name, self.batch_size = SamplingParams, model, batch_size
        self.llm = LLM(model=str(models.resolve(model)), **engine_args)

    def describe(self) -> dict:
        return {"backend": "vllm", "model": self.name}

    def length(self, r: Request) -> int:
        return len(r.user)

    def complete(self, requests: list[Request], s: Sampling) -> list[Completion]:
        conversations = [([{"role": "system", "content": r.system}] if r.system else []) +
                         [{"role": "user", "content": r.user}] for r in requests]
        params = [self.SamplingParams(temperature=s.temperature, top_p=s.top_p, seed=r.seed,
                                      max_tokens=s.max_new_tokens) for r in requests]
        outs = self.llm.chat(conversations, params, use_tqdm=False)
        return [Completion(o.outputs[0].text.strip(), len(o.outputs[0].token_ids),
                           o.outputs[0].finish_reason or "stop") for o in outs]


def make_backend(spec: str = "transformers", model: str | None = None, **kw):
    """``"transformers"`` / ``"plain"`` / ``"openai"`` / ``"vllm"`` -> a backend instance."""
    if spec in ("transformers", "fast"):
        return TransformersBackend(model or models.CHAT_MODEL, engine="fast", **kw)
    if spec == "plain":
        return TransformersBackend(model or models.CHAT_MODEL, engine="plain", **kw)
    if spec == "openai":
        return OpenAIBackend(model or os.environ.get("OPENAI_MODEL", "gpt-4o-mini"), **kw)
    if spec == "vllm":
        return VLLMBackend(model or models.CHAT_MODEL, **kw)
    raise ValueError(f"unknown backend {spec!r}: choose transformers, plain, openai or vllm")


# --- runs -----------------------------------------------------------------------------------
def _plan(prompts: pd.DataFrame, backend, persona: str, sampling: Sampling, n: int):
    system = persona_system(persona)
    jobs = []
    for pid, text in zip(prompts["id"], prompts["text"]):
        for k in range(n):
            rid = f"{pid}/{persona}/T{sampling.temperature:g}/s{sampling.seed}/{k}"
            jobs.append((rid, pid, text, k, Request(text, system, row_seed(sampling.seed, rid))))
    # length buckets: similar lengths share a batch, so little padding is computed
    jobs.sort(key=lambda j: (backend.length(j[4]), j[0]))
    size = backend.batch_size
    return [jobs[i:i + size] for i in range(0, len(jobs), size)]


def generate(prompts, out, backend=None, persona: str = "plain", sampling: Sampling = Sampling(),
             n: int = 1, progress: bool = True) -> pd.DataFrame:
    """Answer every prompt ``n`` times into ``out`` (resumable); return all records.

    ``prompts``: a DataFrame with ``id`` and ``text`` (as from ``valuelab.data.load_prompts``) or
    a list of strings. Re-running with the same arguments resumes; different settings on an
    existing ``out`` raise an error naming the difference.
    """
    from tqdm.auto import tqdm

    if isinstance(prompts, (list, tuple)):
        prompts = pd.DataFrame({"id": [f"p{i:05d}" for i in range(len(prompts))], "text": prompts})
    if prompts["id"].duplicated().any():
        raise ValueError(f"duplicate prompt ids: {prompts['id'][prompts['id'].duplicated()].tolist()[:5]}")
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    backend = backend or TransformersBackend()
    out = Path(out)
    plan = _plan(prompts, backend, persona, sampling, n)
    settings = {**backend.describe(), "persona": persona, "system_prompt": persona_system(persona),
                **asdict(sampling), "n": n, "batch_size": backend.batch_size,
                "plan": hashlib.sha256(json.dumps([[j[0] for j in b] for b in plan]).encode()).hexdigest()}
    if sampling.top_p >= 1 and getattr(backend, "engine", None) == "fast":
        # the fast engine's top_p = 1 draw changed (sort-free, 2026-11): runs begun before it
        # have no "sampler" key and are refused rather than resumed with different draws
        settings["sampler"] = "sort-free"
    _check_run(out, settings)
    done = {p.name for p in out.glob("shard-*.jsonl")}
    todo = [(k, b) for k, b in enumerate(plan) if f"shard-{k:05d}.jsonl" not in done]
    bar = tqdm(total=sum(len(b) for b in plan), initial=sum(len(b) for b in plan) - sum(
        len(b) for _, b in todo), desc=f"generate {persona}", unit="resp", disable=not progress)
    provenance = {k: settings[k] for k in ("model", "backend", "engine", "persona", "temperature",
                                           "top_p", "max_new_tokens", "seed") if k in settings}
    for k, batch in todo:
        completions = backend.complete([j[4] for j in batch], sampling)
        records = [{"id": rid, "prompt_id": pid, "prompt": text, "response": c.text, "sample": s,
                    **provenance, "system_prompt": req.system, "row_seed": req.seed,
                    "n_tokens": c.n_tokens, "finish_reason": c.finish_reason}
                   for (rid, pid, text, s, req), c in zip(batch, completions)]
        write_jsonl_atomic(out / f"shard-{k:05d}.jsonl", records)
        bar.update(len(batch))
    bar.close()
    return read_run(out)


def _check_run(out: Path, settings: dict):
    path = out / "run.json"
    if path.exists():
        old = json.loads(path.read_text())
        diff = [k for k in settings if old.get(k) != settings[k]]
        if diff:
            raise ValueError(f"{out} holds a run with other settings ({', '.join(diff)}); "
                             f"use a new --out folder")
    else:
        out.mkdir(parents=True, exist_ok=True)
        write_atomic(path, json.dumps(settings, indent=1))


def read_run(out) -> pd.DataFrame:
    """All records of a generation run folder, in shard order."""
    rows = [r for p in sorted(Path(out).glob("shard-*.jsonl")) for r in read_jsonl(p)]
    return pd.DataFrame(rows)
