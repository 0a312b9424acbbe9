"""Generate the project's dialogues: SmolLM2-135M-Instruct's answers to the prompt bank.

    $ python data/dialogues/prepare.py            # resumable: rerun to continue after a stop
    $ python data/dialogues/prepare.py --plan     # print the runs and their sizes only

Runs (one folder each under data/dialogues/, shards written atomically by valuelab.generate):
- plain-t0.7: every prompt, the model's own system prompt, temperature 0.7
- <value>+ / <value>-: 450 prompts per value persona (a seeded sample of the non-held-out
  prompts), temperature 0.8: system prompts steering toward or against one value
- plain-t1.0: every prompt again at temperature 1.0
All runs: top-p 0.9, up to 128 new tokens, seed 0, valuelab's fast engine (int8, batch 64).
"""
import argparse
import sys
from pathlib import Path

from valuelab.data import DIALOGUES, load_prompts
from valuelab.generate import PERSONAS, Sampling, TransformersBackend, generate

PERSONA_PROMPTS = 450


def runs(prompts):
    pool = prompts[~prompts.heldout]
    yield "plain-t0.7", "plain", prompts, 0.7
    for persona in PERSONAS:
        if persona != "plain":
            yield persona, persona, pool.sample(PERSONA_PROMPTS, random_state=sum(map(ord, persona))), 0.8
    yield "plain-t1.0", "plain", prompts, 1.0


def main(argv=None):
    p = argparse.ArgumentParser()
    p.add_argument("--plan", action="store_true")
    p.add_argument("--out", default=str(DIALOGUES))
    args = p.parse_args(argv)
    prompts = load_prompts()
    plan = list(runs(prompts))
    print(f"{len(plan)} runs, {sum(len(r[2]) for r in plan)} dialogues", flush=True)
    if args.plan:
        for name, persona, df, t in plan:
            print(f"  {name:<22} {persona:<18} T={t} {len(df)}")
        return
    backend = TransformersBackend(batch_size=64)
    for name, persona, df, t in plan:
        generate(df, Path(args.out) / name, backend, persona=persona,
                 sampling=Sampling(temperature=t, top_p=0.9, max_new_tokens=128, seed=0))


if __name__ == "__main__":
    sys.exit(main())
