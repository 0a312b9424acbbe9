"""valuelab's GRPO loop: BaseAlign's online RL, fast enough to run in a class on a CPU.

    >>> from valuelab.grpo import GRPOConfig, train
    >>> from valuelab.align import make_reward_function
    >>> history = train(prompts, make_reward_function(judge), "runs/grpo", GRPOConfig(steps=20))

The loss is TRL's ``GRPOTrainer`` default, term for term: per prompt ``num_generations``
completions, advantages ``(r - mean) / (std + 1e-4)`` within each prompt's group, the clipped
token-level importance ratio (``epsilon`` 0.2; the ratio is 1 on the single pass over fresh
samples), summed over completion tokens and divided by the batch's completion-token count
(``loss_type="dapo"``), no KL term unless ``beta > 0``. What differs is how the update is computed:

- completions come from valuelab's decode engine (``valuelab.generate``: bfloat16 matrix products,
  KV cache, finished rows dropped) over a copy of the policy refreshed after every step, not from
  ``model.generate`` on the training model;
- LoRA sits on the top ``lora_layers`` decoder layers only, so the backward pass stops there; the
  training forward runs under bfloat16 autocast, without gradient checkpointing, and computes
  logits only over completion tokens.

Data parallel through accelerate: ``torchrun --nproc_per_node N`` (CPU, gloo) or ``accelerate launch``
(GPUs, DeepSpeed configs in ``configs/``) start one process per rank; each samples its share of
the prompts, gradients are averaged, every rank holds the same adapter. On GPUs, TRL's trainer
with vLLM generation (``valuelab.align.grpo_train(..., use_vllm=True)``) is the scale-out path.

A run writes ``out/checkpoint-N/`` (adapter, optimiser, history) atomically every ``save_every``
steps and ``out/adapter/`` at the end; started again on the same ``out`` it resumes.
"""
from __future__ import annotations

import json
import math
import shutil
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from valuelab import models
from valuelab.data import write_atomic
from valuelab.generate import Request, Sampling, TransformersBackend, row_seed


@dataclass
class GRPOConfig:
    """Settings of a run (saved as ``out/config.json``; unknown keys are rejected)."""

    steps: int = 20
    prompts_per_step: int = 8
    num_generations: int = 4
    max_new_tokens: int = 48
    temperature: float = 1.0
    top_p: float = 1.0
    learning_rate: float = 2e-4
    lora_r: int = 8
    lora_alpha: int = 16
    lora_layers: int = 8  # LoRA on the top this-many decoder layers (0: all layers)
    target_modules: tuple = ("q_proj", "k_proj", "v_proj", "o_proj")
    epsilon: float = 0.2
    beta: float = 0.0  # KL(policy || base) coefficient, TRL's k3 estimator; 0 as TRL's default
    max_grad_norm: float = 1.0
    autocast_bf16: bool = True
    seed: int = 0
    save_every: int = 10
    policy: str = models.CHAT_MODEL

    def __post_init__(self):
        for name in ("steps", "prompts_per_step", "max_new_tokens", "lora_r"):
            if getattr(self, name) < 1:
                raise ValueError(f"GRPOConfig.{name} must be >= 1, got {getattr(self, name)}")
        if self.num_generations < 2:
            raise ValueError(f"GRPOConfig.num_generations must be >= 2 (advantages are relative "
                             f"within a prompt's group), got {self.num_generations}")
        if not 0 < self.learning_rate < 1:
            raise ValueError(f"GRPOConfig.learning_rate must be in (0, 1), got {self.learning_rate}")
        self.target_modules = tuple(self.target_modules)

    def tag(self) -> str:
        """A short hash of the settings a run cannot change midway (all but steps and
        save_every): run folders named with it never collide with another setting's run."""
        import hashlib
        import json
        from dataclasses import asdict

        d = {k: v for k, v in asdict(self).items() if k not in ("steps", "save_every")}
        return hashlib.sha256(json.dumps(d, sort_keys=True, default=list).encode()).hexdigest()[:8]

    @classmethod
    def from_dict(cls, d: dict) -> GRPOConfig:
        known = {f.name for f in fields(cls)}
        if unknown := set(d) - known:
            raise ValueError(f"unknown GRPOConfig keys: {', '.join(sorted(unknown))}")
        return cls(**d)


# --- the policy ------------------------------------------------------------------------------
class Policy:
    """A chat model with a LoRA adapter (trainable), and a bfloat16 copy that samples from it."""

    def __init__(self, name: str = models.CHAT_MODEL, adapter=None, lora_r: int = 8, lora_alpha: int = 16,
                 lora_layers: int = 8, target_modules=("q_proj", "k_proj", "v_proj", "o_proj"),
                 trainable: bool = True, batch_size: int = 64):
        from peft import LoraConfig, PeftModel, get_peft_model

        base, self.tokenizer = models.load_chat_model(name)
        self.name = name
        if adapter is not None:
            self.model = PeftModel.from_pretrained(base, str(adapter), is_trainable=trainable)
        else:
            n = base.config.num_hidden_layers
            layers = list(range(n - lora_layers, n)) if 0 < lora_layers < n else None
            config = LoraConfig(r=lora_r, lora_alpha=lora_alpha, lora_dropout=0.0, task_type="CAUSAL_LM",
                                target_modules=list(target_modules), layers_to_transform=layers)
            self.model = get_peft_model(base, config)
        self.backend = TransformersBackend.from_model(self.model, self.tokenizer, name=name,
                                                      batch_size=batch_size)
        self._pairs = [(m, dict(self.backend.decoder.named_modules())[n])
                       for n, m in self.model.named_modules()
                       if isinstance(m, torch.nn.Linear) and m.weight.requires_grad]

    @torch.no_grad()
    def refresh(self):
        """Copy the trained LoRA weights into the sampling copy (after every optimiser step)."""
        for trained, sampler in self._pairs:
            sampler.weight.copy_(trained.weight.to(sampler.weight.dtype))

    def sample(self, prompts: list[str], n: int, sampling: Sampling, key: str = "") -> list[dict]:
        """``n`` completions per prompt: dicts with prompt, completion, prompt_ids, tokens."""
        reqs = [Request(p, None, row_seed(sampling.seed, f"{key}/{i}/{k}"))
                for i, p in enumerate(prompts) for k in range(n)]
        out = []
        for s in range(0, len(reqs), self.backend.batch_size):
            out += self.backend.complete(reqs[s:s + self.backend.batch_size], sampling)
        ids = self.tokenizer([self.backend.prompt_text(r) for r in reqs], add_special_tokens=False).input_ids
        return [{"prompt": r.user, "completion": c.text, "prompt_ids": p, "tokens": list(c.tokens)}
                for r, c, p in zip(reqs, out, ids)]

    def complete(self, prompts: list[str], sampling: Sampling, key: str = "eval") -> list[str]:
        return [s["completion"] for s in self.sample(list(prompts), 1, sampling, key)]

    def save(self, path) -> Path:
        """The adapter (peft format) into ``path``, written atomically."""
        path = Path(path)
        tmp = path.with_name(path.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        self.model.save_pretrained(str(tmp))
        shutil.rmtree(path, ignore_errors=True)
        tmp.rename(path)
        return path


def load_policy(adapter=None, name: str = models.CHAT_MODEL, **kw) -> Policy:
    """The base model (``adapter=None``) or a saved adapter on it, ready to sample."""
    if adapter is not None and not (Path(adapter) / "adapter_config.json").exists():
        raise FileNotFoundError(f"no adapter in {adapter} (adapter_config.json missing; an interrupted run "
                                f"keeps its latest one in checkpoint-N/adapter)")
    return Policy(name, adapter=adapter, trainable=False, **kw)


# --- the loss --------------------------------------------------------------------------------
class SharedPrefixLM(torch.nn.Module):
    """The policy's per-token log-probabilities of completions, each prompt computed once.

    The ``num_generations`` completions of one prompt share it: the prompt runs through the
    model once (8 rows, not 32), its KV cache is repeated for its completions, and the completions
    run on top of it — the same numbers as one pass over each (prompt + completion), with a
    quarter of the prompt compute, gradients included. One module, so that DDP sees one forward.
    """

    def __init__(self, model, temperature: float = 1.0):
        super().__init__()
        self.model, self.temperature = model, temperature

    def forward(self, prompt_ids, prompt_mask, index, completion_ids, completion_mask):
        logits = self.logits(prompt_ids, prompt_mask, index, completion_ids, completion_mask)
        completion_ids = completion_ids.to(logits.device)
        return logits.gather(-1, completion_ids[..., None]).squeeze(-1) - logits.logsumexp(-1)

    def logits(self, prompt_ids, prompt_mask, index, completion_ids, completion_mask):
        """(B, T, vocab) float logits predicting each completion token (divided by the sampling
        temperature, as TRL does)."""
        device = next(self.model.parameters()).device
        prompt_ids, prompt_mask, index = prompt_ids.to(device), prompt_mask.to(device), index.to(device)
        completion_ids, completion_mask = completion_ids.to(device), completion_mask.to(device)
        pos = (prompt_mask.cumsum(-1) - 1).clamp(min=0)
        out = self.model(input_ids=prompt_ids, attention_mask=prompt_mask, position_ids=pos, use_cache=True,
                         logits_to_keep=1)
        cache = out.past_key_values
        cache.batch_select_indices(index)  # each completion gets its prompt's keys and values
        T = completion_ids.shape[1]
        mask = torch.cat([prompt_mask[index], completion_mask], 1)
        cpos = pos[index, -1:] + 1 + torch.arange(T, device=device)
        logits = self.model(input_ids=completion_ids, attention_mask=mask, position_ids=cpos,
                            past_key_values=cache, use_cache=True, logits_to_keep=T).logits
        return torch.cat([out.logits[index, -1:], logits[:, :-1]], 1).float() / self.temperature


def batch_tensors(samples: list[dict], pad_id: int) -> dict:
    """Left-padded unique prompts, each sample's prompt index, right-padded completions."""
    keys = [tuple(s["prompt_ids"]) for s in samples]
    uniq = list(dict.fromkeys(keys))
    where = {k: i for i, k in enumerate(uniq)}
    P = max(len(k) for k in uniq)
    T = max(max(len(s["tokens"]) for s in samples), 1)
    prompt_ids = torch.full((len(uniq), P), pad_id)
    prompt_mask = torch.zeros((len(uniq), P), dtype=torch.long)
    for i, k in enumerate(uniq):
        prompt_ids[i, P - len(k):], prompt_mask[i, P - len(k):] = torch.tensor(k), 1
    completion_ids = torch.full((len(samples), T), pad_id)
    completion_mask = torch.zeros((len(samples), T), dtype=torch.long)
    for j, s in enumerate(samples):
        if s["tokens"]:
            completion_ids[j, :len(s["tokens"])], completion_mask[j, :len(s["tokens"])] = torch.tensor(s["tokens"]), 1
    return {"prompt_ids": prompt_ids, "prompt_mask": prompt_mask, "index": torch.tensor([where[k] for k in keys]),
            "completion_ids": completion_ids, "completion_mask": completion_mask}


def completion_logps(model, samples: list[dict], pad_id: int, temperature: float = 1.0):
    """Per-token log-probabilities of each sample's completion tokens under ``model`` (a causal
    LM, or a ``SharedPrefixLM``): ((B, T) log-probs, (B, T) mask)."""
    batch = batch_tensors(samples, pad_id)
    lm = model if isinstance(getattr(model, "module", model), SharedPrefixLM) else SharedPrefixLM(model, temperature)
    logp = lm(**batch)
    return logp, batch["completion_mask"].float().to(logp.device)


def group_advantages(rewards: torch.Tensor, n: int) -> torch.Tensor:
    """TRL's ``scale_rewards="group"``: (r - group mean) / (group std + 1e-4), groups of ``n``."""
    g = rewards.view(-1, n)
    return ((g - g.mean(1, keepdim=True)) / (g.std(1, keepdim=True) + 1e-4)).view(-1)


def grpo_loss(logp, old_logp, advantages, mask, epsilon: float = 0.2, n_tokens=None,
              ref_logp=None, beta: float = 0.0) -> torch.Tensor:
    """TRL's GRPO loss with ``loss_type="dapo"``: clipped token-level ratio times advantage,
    summed over completion tokens, divided by ``n_tokens`` (default: the tokens in ``mask``)."""
    ratio = torch.exp(logp - old_logp)
    a = advantages[:, None]
    per_token = -torch.min(ratio * a, ratio.clamp(1 - epsilon, 1 + epsilon) * a)
    if beta and ref_logp is not None:  # TRL's k3 estimator, importance-corrected (use_bias_correction_kl)
        per_token = per_token + beta * (torch.exp(ref_logp - logp) - (ref_logp - logp) - 1) * ratio
    n_tokens = mask.sum().clamp(min=1) if n_tokens is None else n_tokens
    return (per_token * mask).sum() / n_tokens


# --- the loop --------------------------------------------------------------------------------
def _texts(prompts) -> tuple[list[str], list]:
    """Prompt texts and per-prompt targets from a DataFrame (text[, target]) or a list."""
    if isinstance(prompts, pd.DataFrame):
        texts = prompts["text"].tolist()
        targets = prompts["target"].tolist() if "target" in prompts else [None] * len(texts)
    else:
        texts, targets = list(prompts), [None] * len(prompts)
    if not texts:
        raise ValueError("no prompts to train on")
    return texts, targets


def train(prompts, reward_fn, out, config: GRPOConfig | None = None, progress: bool = True,
          log=None, return_policy: bool = False):
    """Run (or resume) GRPO on ``prompts`` with ``reward_fn`` — TRL's reward-function shape,
    ``f(prompts, completions, target=..., **_) -> list[float]``, e.g.
    ``valuelab.align.make_reward_function(judge)``. Returns the per-step history; ``log(row)``
    sees each step's row as it happens (live plots). ``return_policy``: also return the trained
    ``Policy`` (``(history, policy)``), ready to sample."""
    from accelerate import Accelerator
    from tqdm.auto import tqdm

    config = config or GRPOConfig()
    out = Path(out)
    acc = Accelerator(cpu=not torch.cuda.is_available())
    texts, targets = _texts(prompts)
    _check_config(out, config, acc)
    torch.manual_seed(config.seed)
    policy = Policy(config.policy, lora_r=config.lora_r, lora_alpha=config.lora_alpha,
                    lora_layers=config.lora_layers, target_modules=config.target_modules)
    params = [p for p in policy.model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=config.learning_rate, weight_decay=0.0)  # TRL's default
    history, start = _resume(out, policy, opt)
    if config.prompts_per_step < acc.num_processes:
        raise ValueError(f"prompts_per_step ({config.prompts_per_step}) must be at least the number of "
                         f"processes ({acc.num_processes}): every rank needs a prompt")
    model, opt = acc.prepare(SharedPrefixLM(policy.model, config.temperature), opt)
    policy.refresh()
    sampling = Sampling(temperature=config.temperature, top_p=config.top_p,
                        max_new_tokens=config.max_new_tokens, seed=config.seed)
    rng = np.random.default_rng(config.seed)
    order = np.concatenate([rng.permutation(len(texts)) for _ in range(
        math.ceil(config.steps * config.prompts_per_step / len(texts)) + 1)])
    bar = tqdm(total=config.steps, initial=start, desc="grpo", disable=not (progress and acc.is_main_process))
    for step in range(start, config.steps):
        t0 = time.perf_counter()
        picked = order[step * config.prompts_per_step:(step + 1) * config.prompts_per_step]
        mine = picked[acc.process_index::acc.num_processes]  # each rank: whole prompt groups
        row = _step(policy, model, opt, acc, [texts[i] for i in mine], [targets[i] for i in mine],
                    reward_fn, config, sampling, key=f"step{step}")
        row.update(step=step + 1, seconds=time.perf_counter() - t0)
        history.append(row)
        bar.update(1)
        bar.set_postfix(reward=f"{row['reward']:.3f}", len=f"{row['completion_tokens']:.0f}")
        if log and acc.is_main_process:
            log(row)
        if acc.is_main_process and ((step + 1) % config.save_every == 0 or step + 1 == config.steps):
            _checkpoint(out, policy.model, opt, history, step + 1)
    bar.close()
    acc.wait_for_everyone()
    if acc.is_main_process:
        policy.save(out / "adapter")
    history = pd.DataFrame(history)
    return (history, policy) if return_policy else history


def _step(policy, model, opt, acc, texts, targets, reward_fn, config, sampling, key) -> dict:
    n = config.num_generations
    model.eval()
    with torch.no_grad():
        samples = policy.sample(texts, n, sampling, key=f"{key}/rank{acc.process_index}")
    columns = {"target": [t for t in targets for _ in range(n)]} if any(t is not None for t in targets) else {}
    got = reward_fn([s["prompt"] for s in samples], [s["completion"] for s in samples], **columns)
    if len(got) != len(samples) or any(r is None for r in got):
        raise ValueError(f"the reward function must return one number per completion ({len(samples)}); "
                         f"got {len(got)} values, {sum(r is None for r in got)} of them None")
    rewards = torch.tensor(got, dtype=torch.float32)
    advantages = group_advantages(rewards, n)
    model.train()
    with torch.autocast("cpu" if acc.device.type == "cpu" else acc.device.type, dtype=torch.bfloat16,
                        enabled=config.autocast_bf16):
        logp, mask = completion_logps(model, samples, policy.tokenizer.pad_token_id)
        ref = None
        if config.beta:
            with torch.no_grad(), policy.model.disable_adapter():
                ref, _ = completion_logps(policy.model, samples, policy.tokenizer.pad_token_id, config.temperature)
    local = mask.sum().to(acc.device)
    total = acc.reduce(local.detach().clone(), "sum") if acc.num_processes > 1 else local
    loss = grpo_loss(logp, logp.detach(), advantages, mask, config.epsilon,
                     n_tokens=total.clamp(min=1) / acc.num_processes, ref_logp=ref, beta=config.beta)
    acc.backward(loss)
    if config.max_grad_norm:
        acc.clip_grad_norm_(model.parameters(), config.max_grad_norm)
    opt.step()
    opt.zero_grad(set_to_none=True)
    policy.refresh()
    if acc.num_processes > 1:  # the logged numbers cover every rank's completions
        rewards = acc.gather(rewards.to(acc.device)).cpu()
    return {"loss": loss.item(), "reward": float(rewards.mean()), "reward_std": float(rewards.std()),
            "completion_tokens": float(mask.sum(1).mean()),
            "empty": float(np.mean([not s["completion"].strip() for s in samples]))}


def _check_config(out: Path, config: GRPOConfig, acc):
    path = out / "config.json"
    settings = {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(config).items()}
    if path.exists():
        old = json.loads(path.read_text())
        diff = [k for k in settings if k not in ("steps", "save_every") and old.get(k) != settings[k]]
        if diff:
            raise ValueError(f"{out} holds a run with other settings ({', '.join(diff)}); use a new out folder")
    if acc.is_main_process:
        out.mkdir(parents=True, exist_ok=True)
        write_atomic(path, json.dumps(settings, indent=1))


def _checkpoint(out: Path, model, opt, history, step: int):
    """out/checkpoint-N written whole under a temporary name, then renamed; older ones removed."""
    tmp = out / f".checkpoint-{step}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(str(tmp / "adapter"))
    torch.save({"optimizer": opt.state_dict(), "step": step}, tmp / "state.pt")
    write_atomic(tmp / "history.json", json.dumps(history))
    final = out / f"checkpoint-{step}"
    shutil.rmtree(final, ignore_errors=True)
    tmp.rename(final)
    for old in out.glob("checkpoint-*"):
        if old != final:
            shutil.rmtree(old, ignore_errors=True)


def _resume(out: Path, policy, opt) -> tuple[list, int]:
    ckpts = sorted(out.glob("checkpoint-*"), key=lambda p: int(p.name.split("-")[1]))
    if not ckpts:
        return [], 0
    from peft import set_peft_model_state_dict
    from safetensors.torch import load_file

    last = ckpts[-1]
    set_peft_model_state_dict(policy.model, load_file(str(last / "adapter" / "adapter_model.safetensors")))
    state = torch.load(last / "state.pt", weights_only=False)
    opt.load_state_dict(state["optimizer"])
    return json.loads((last / "history.json").read_text()), state["step"]
