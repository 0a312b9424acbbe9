"""Generation speed: valuelab's fast engine against plain transformers `model.generate`.

    $ .venv/bin/python bench/generate.py                 # 128 prompts, 128 new tokens
    $ .venv/bin/python bench/generate.py --prompts 64 --max-new-tokens 64

Both answer the same prompts (a seeded sample of the prompt bank) with the same sampling settings
(temperature 0.7, top-p 0.9) and length limit, SmolLM2-135M-Instruct, in one process; the
baseline at batch 32, valuelab at its default batch. Prints generated tokens/s of each and the
ratio, and — as the quality check — the mean per-token log-likelihood of each one's samples under
the unmodified fp32 model (they should agree within 5%). Run on a quiet machine.
"""
import argparse
import time

import torch

from valuelab.data import load_prompts
from valuelab.generate import Request, Sampling, TransformersBackend, row_seed


def run(backend, reqs, sampling, batch):
    start, texts, tokens = time.perf_counter(), [], 0
    for i in range(0, len(reqs), batch):
        for c in backend.complete(reqs[i:i + batch], sampling):
            texts.append(c.text)
            tokens += c.n_tokens
    return tokens / (time.perf_counter() - start), tokens, texts


@torch.inference_mode()
def mean_loglik(model, tokenizer, backend, reqs, texts):
    """Mean per-token log-likelihood of the responses under ``model`` (fp32, unmodified)."""
    total, count = 0.0, 0
    for r, text in zip(reqs, texts):
        prompt = tokenizer(backend.prompt_text(r), add_special_tokens=False, return_tensors="pt").input_ids
        answer = tokenizer(text, add_special_tokens=False, return_tensors="pt").input_ids
        if answer.shape[1] == 0:
            continue
        ids = torch.cat([prompt, answer], 1)
        logp = torch.log_softmax(model(ids).logits[0, prompt.shape[1] - 1:-1], -1)
        total += logp.gather(1, answer[0][:, None]).sum().item()
        count += answer.shape[1]
    return total / count


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--prompts", type=int, default=128)
    p.add_argument("--max-new-tokens", type=int, default=128)
    p.add_argument("--baseline-batch", type=int, default=32)
    p.add_argument("--engine-batch", type=int, default=64)
    args = p.parse_args()
    df = load_prompts().sample(args.prompts, random_state=0)
    reqs = [Request(t, None, row_seed(0, i)) for i, t in zip(df["id"], df["text"])]
    sampling = Sampling(temperature=0.7, top_p=0.9, max_new_tokens=args.max_new_tokens)
    plain = TransformersBackend(engine="plain")
    fast = TransformersBackend(engine="fast", batch_size=args.engine_batch)
    run(fast, reqs[:4], Sampling(max_new_tokens=4), 4)  # warm-up both
    run(plain, reqs[:4], Sampling(max_new_tokens=4), 4)
    base_tps, base_n, base_texts = run(plain, reqs, sampling, args.baseline_batch)
    fast_tps, fast_n, fast_texts = run(fast, reqs, sampling, args.engine_batch)
    base_ll = mean_loglik(plain.model, plain.tokenizer, plain, reqs, base_texts)
    fast_ll = mean_loglik(plain.model, plain.tokenizer, plain, reqs, fast_texts)
    print(f"prompts {len(reqs)}, max_new_tokens {args.max_new_tokens}, threads {torch.get_num_threads()}")
    print(f"plain model.generate (batch {args.baseline_batch}): {base_tps:7.1f} tokens/s  ({base_n} tokens)")
    print(f"valuelab fast engine (batch {args.engine_batch}): {fast_tps:7.1f} tokens/s  ({fast_n} tokens)")
    print(f"speed-up: {fast_tps / base_tps:.2f}x")
    print(f"mean log-likelihood under fp32 model: plain {base_ll:.3f}, valuelab {fast_ll:.3f} "
          f"(relative difference {abs(fast_ll - base_ll) / abs(base_ll):.1%})")


if __name__ == "__main__":
    main()
