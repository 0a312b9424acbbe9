"""Judge scoring speed: `Judge.score` against a plain transformers forward loop.

    $ .venv/bin/python bench/judge.py                   # 1,024 dialogues from the shipped data
    $ .venv/bin/python bench/judge.py --judge runs/judge

Both score the same dialogues with the same judge (a saved one, or a fresh all-MiniLM-L6-v2 judge
with an untrained head: speed and numerical error do not depend on training). The baseline pads
every batch of 64 to 128 tokens and runs the fp32 model; valuelab's scorer sorts by length, pads
each batch only as far as needed and runs the encoder in bfloat16. Prints dialogues/s of each, the
ratio, and the largest absolute difference of the scores from the fp32 reference.
"""
import argparse
import time

import numpy as np
import torch

from valuelab.data import load_dialogues
from valuelab.judge import Judge, JudgeConfig, JudgeModel
from valuelab.models import load_encoder


@torch.inference_mode()
def plain_loop(judge, df, batch=64, length=128):
    out = []
    for s in range(0, len(df), batch):
        part = df.iloc[s:s + batch]
        enc = judge.tokenizer([f"Human: {p}" for p in part["prompt"]], [f"Bob: {r}" for r in part["response"]],
                              padding="max_length", truncation="longest_first", max_length=length,
                              return_tensors="pt")
        out.append(judge._vectors(judge.model(enc["input_ids"], enc["attention_mask"])).numpy())
    return np.concatenate(out)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--judge", default=None)
    p.add_argument("--n", type=int, default=1024)
    args = p.parse_args()
    if args.judge:
        judge = Judge.load(args.judge)
    else:
        torch.manual_seed(0)
        encoder, tokenizer = load_encoder()
        judge = Judge(JudgeConfig(max_length=128), JudgeModel(encoder, 10), tokenizer)
    judge.config.max_length = 128
    df = load_dialogues().sample(args.n, random_state=0)[["prompt", "response"]].reset_index(drop=True)
    judge.score(df.head(64)), plain_loop(judge, df.head(64))  # warm-up
    t = time.perf_counter()
    ref = plain_loop(judge, df)
    base = len(df) / (time.perf_counter() - t)
    t = time.perf_counter()
    ours = judge.score(df, batch_size=64)
    fast = len(df) / (time.perf_counter() - t)
    exact = Judge(judge.config, judge.model, judge.tokenizer, bf16=False).score(df, batch_size=64)
    print(f"{len(df)} dialogues, 128 tokens max, batch 64, threads {torch.get_num_threads()}")
    print(f"plain transformers forward (fp32, padded to 128): {base:7.1f} dialogues/s")
    print(f"valuelab Judge.score (bf16, length-sorted):        {fast:7.1f} dialogues/s")
    print(f"speed-up: {fast / base:.2f}x")
    print(f"max |score - fp32 reference|: {np.abs(ours - exact).max():.4f} (same inputs, fp32 model); "
          f"vs the padded loop: {np.abs(ours - ref).max():.4f}")


if __name__ == "__main__":
    main()
