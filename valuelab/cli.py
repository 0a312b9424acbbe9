"""valuelab on the command line: thin faces over the package's functions.

    $ valuelab targets                     # the named targets as a table
    $ valuelab targets ideal               # one target vector
    $ valuelab generate --prompts data/prompts --out runs/gen --persona power+ --n 2
    $ valuelab annotate --in dialogues.jsonl --out labels.jsonl --annotator llm
    $ valuelab judge train --out runs/judge --profile classroom
    $ valuelab judge score --judge runs/judge --in dialogues.jsonl --out scores.jsonl
    $ valuelab align --target ideal --method grpo --out runs/align --steps 20
    $ valuelab align --target uk --away france --out runs/uk     # toward one profile, away from another
    $ valuelab evaluate --policy runs/align --prompts test --target ideal
    $ valuelab workbook --profile classroom --out runs/workbook
"""
from __future__ import annotations

import argparse
import sys


def _targets(args):
    from valuelab.values import NAMES, TARGET_NOTES, TARGETS, VALUES, target

    if args.name:
        t = target(args.name)
        print("\n".join(f"{v:<15} {x:+.4f}" for v, x in zip(NAMES, t)))
        return
    print(f"{'target':<20}" + "".join(f"{v.abbr:>7}" for v in VALUES) + "  note")
    for name, t in TARGETS.items():
        print(f"{name:<20}" + "".join(f"{x:>+7.2f}" for x in t) + f"  {TARGET_NOTES[name]}")


def _generate(args):
    from valuelab.data import load_prompts
    from valuelab.generate import Sampling, generate, make_backend

    prompts = load_prompts(args.prompts)
    if args.limit:
        prompts = prompts.head(args.limit)
    kw = {"batch_size": args.batch_size} if args.batch_size else {}
    backend = make_backend(args.backend, args.model, **kw)
    sampling = Sampling(temperature=args.temperature, top_p=args.top_p,
                        max_new_tokens=args.max_new_tokens, seed=args.seed)
    df = generate(prompts, args.out, backend, persona=args.persona, sampling=sampling, n=args.n,
                  progress=not args.quiet)
    print(f"{len(df)} responses in {args.out}")


def _annotate(args):
    import pandas as pd

    from valuelab.annotate import LexiconAnnotator, LLMAnnotator
    from valuelab.data import read_fulcra, read_jsonl, write_jsonl_atomic

    path = args.input
    rows = read_jsonl(path)
    if rows and "dialogue" in rows[0]:
        df = read_fulcra(path)
    else:
        df = pd.DataFrame(rows)
        if not {"id", "prompt", "response"} <= set(df.columns):
            raise ValueError(f"{path}: lines need id, prompt and response (or a FULCRA 'dialogue')")
    if args.annotator == "lexicon":
        labels = LexiconAnnotator().annotate(df)
    else:
        labels = LLMAnnotator(model=args.model, cache=args.cache or f"{args.out}.cache.jsonl").annotate(df)
    from valuelab.values import NAMES

    write_jsonl_atomic(args.out, [{"id": r["id"], "labels": {v: int(r[v]) for v in NAMES},
                                   "items": list(r["items"]), "annotator": r["annotator"]}
                                  for r in labels.to_dict("records")])
    missing = len(df) - len(labels)
    print(f"{len(labels)} dialogues labelled into {args.out}" +
          (f"; {missing} quarantined (see the .quarantine.jsonl beside the cache)" if missing else ""))


def _judge_train(args):
    from dataclasses import replace

    from valuelab.data import load_dataset
    from valuelab.judge import PROFILES, Judge

    if args.profile not in PROFILES:
        raise ValueError(f"unknown profile {args.profile!r}; profiles: {', '.join(PROFILES)}")
    config = replace(PROFILES[args.profile], **({"mode": args.mode} if args.mode else {}),
                     **({"head": args.head} if args.head else {}))
    judge = Judge.train(load_dataset("train"), config)
    print(f"judge saved to {judge.save(args.out)}")


def _judge_score(args):
    import pandas as pd

    from valuelab.data import parse_dialogue, read_jsonl, write_jsonl_atomic
    from valuelab.judge import Judge
    from valuelab.values import NAMES

    rows = read_jsonl(args.input)
    pairs = []
    for n, r in enumerate(rows, 1):
        if "dialogue" in r:
            pairs.append(parse_dialogue(r["dialogue"]))
        elif "prompt" in r and "response" in r:
            pairs.append((r["prompt"], r["response"]))
        else:
            raise ValueError(f"{args.input}:{n}: needs 'dialogue' (Human:/Bob:) or 'prompt' and 'response'")
    scores = Judge.load(args.judge).score(pd.DataFrame(pairs, columns=["prompt", "response"]))
    out = [{**({"id": r["id"]} if "id" in r else {"dialogue": r.get("dialogue") or
                                                  f"Human: {r['prompt']}\nBob: {r['response']}"}),
            "scores": {v: round(float(x), 6) for v, x in zip(NAMES, s)}} for r, s in zip(rows, scores)]
    write_jsonl_atomic(args.out, out)
    print(f"{len(out)} dialogues scored into {args.out}")


def _judge_for(path):
    """A saved judge, or (no path) the classroom judge on the train split, cached."""
    from valuelab import judge
    from valuelab.data import load_dataset

    return judge.Judge.load(path) if path else judge.cached(load_dataset("train"), "classroom")


def _prompts_for(spec: str, limit: int | None):
    """``train`` / ``validation`` / ``test``: the bank's prompts of that split; else a JSONL file or folder."""
    from valuelab.data import SPLITS, load_prompts, prompt_splits

    if spec in SPLITS:
        bank = load_prompts()
        prompts = bank[bank["id"].map(prompt_splits(bank)) == spec]
    else:
        prompts = load_prompts(spec)
    return prompts.sample(limit, random_state=0) if limit and limit < len(prompts) else prompts


def _align(args):
    from valuelab import align, evaluate, grpo
    from valuelab.data import write_jsonl_atomic
    from valuelab.generate import Sampling
    from valuelab.values import target

    t = target(args.target).array.tolist()
    judge = _judge_for(args.judge)
    prompts = _prompts_for(args.prompts, args.limit)
    sampling = Sampling(temperature=1.0, top_p=1.0, max_new_tokens=args.max_new_tokens, seed=args.seed)
    if args.method == "grpo" and args.engine == "trl":  # TRL's trainer: the scale-out path (DeepSpeed, vLLM)
        import torch

        trainer = align.grpo_train(align.prompt_dataset(prompts, t), judge, args.out, kind=args.kind,
                                   max_steps=args.steps, learning_rate=args.learning_rate,
                                   num_generations=args.n, per_device_train_batch_size=args.n * 2,
                                   max_completion_length=args.max_new_tokens, seed=args.seed,
                                   use_vllm=args.use_vllm, use_cpu=not torch.cuda.is_available(),
                                   bf16=torch.cuda.is_available())
        trainer.save_model(f"{args.out}/adapter")  # the main process writes; gathers ZeRO-3 shards
    elif args.method == "grpo":
        config = grpo.GRPOConfig(steps=args.steps, learning_rate=args.learning_rate, num_generations=args.n,
                                 prompts_per_step=max(1, 32 // args.n), beta=args.beta,
                                 max_new_tokens=args.max_new_tokens, seed=args.seed)
        away = target(args.away).array if args.away else None
        reward_fn = align.make_reward_function(judge, args.kind, away=away, away_weight=args.away_weight)
        grpo.train(prompts.assign(target=[t] * len(prompts)), reward_fn, args.out, config)
    else:
        samples = evaluate.sample(grpo.load_policy(), prompts, n=args.n, sampling=sampling, log_probs=False)
        if args.method == "dpo":
            align.dpo_train(align.dpo_pairs(samples, judge, t, args.kind), args.out, learning_rate=args.learning_rate)
        else:
            best = align.best_of_n(samples, judge, t, args.kind)
            write_jsonl_atomic(f"{args.out}/best_of_n.jsonl", best[["prompt_id", "prompt", "response", "reward"]]
                               .to_dict("records"))
    print(f"{args.method} toward {args.target}: results in {args.out}")


def _evaluate(args):
    from pathlib import Path

    from valuelab import evaluate, grpo
    from valuelab.data import write_jsonl_atomic
    from valuelab.values import target

    adapter = Path(args.policy)
    adapter = adapter / "adapter" if (adapter / "adapter" / "adapter_config.json").exists() else adapter
    t = target(args.target).array
    judge = _judge_for(args.judge)
    prompts = _prompts_for(args.prompts, args.limit)
    scored = {name: evaluate.score(evaluate.sample(policy, prompts), judge, t, args.kind)
              for name, policy in (("base", grpo.load_policy()), ("policy", grpo.load_policy(adapter)))}
    print(evaluate.format_table(evaluate.results_table(scored)).T.to_string())
    if args.out:
        cols = ["prompt_id", "kind", "prompt", "response", "distance", "covered", "refusal", "kl"]
        write_jsonl_atomic(args.out, [{"policy": name, **r} for name, df in scored.items()
                                      for r in df[cols].to_dict("records")])


def _workbook(args):
    from valuelab.workbook import run_all

    run_all(args.profile, args.out, args.only)


def main(argv=None):
    p = argparse.ArgumentParser(prog="valuelab", description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="command", required=True)

    t = sub.add_parser("targets", help="print named target vectors")
    t.add_argument("name", nargs="?", help="a target name, or 10 comma-separated numbers")
    t.set_defaults(func=_targets)

    g = sub.add_parser("generate", help="answer prompts with a chat model (resumable)")
    g.add_argument("--prompts", required=True, help="prompt JSONL file or folder (id, text, ...)")
    g.add_argument("--out", required=True, help="run folder; rerun with the same folder to resume")
    g.add_argument("--persona", default="plain", help="plain, or VALUE+ / VALUE- (e.g. power+)")
    g.add_argument("--n", type=int, default=1, help="samples per prompt")
    g.add_argument("--backend", default="transformers", help="transformers | plain | openai | vllm")
    g.add_argument("--model", default=None, help="model name or id (default SmolLM2-135M-Instruct)")
    g.add_argument("--temperature", type=float, default=0.7)
    g.add_argument("--top-p", type=float, default=0.9)
    g.add_argument("--max-new-tokens", type=int, default=128)
    g.add_argument("--seed", type=int, default=0)
    g.add_argument("--batch-size", type=int, default=None)
    g.add_argument("--limit", type=int, default=None, help="only the first N prompts")
    g.add_argument("--quiet", action="store_true", help="no progress bar")
    g.set_defaults(func=_generate)

    a = sub.add_parser("annotate", help="label dialogues with the value guideline")
    a.add_argument("--in", dest="input", required=True, help="JSONL: id, prompt, response (or FULCRA dialogue)")
    a.add_argument("--out", required=True, help="JSONL of labels (id, labels, items, annotator)")
    a.add_argument("--annotator", default="llm", choices=["llm", "lexicon"],
                   help="llm: the OpenAI-compatible endpoint in VALUELAB_ANNOTATOR_BASE_URL; lexicon: pyvalues")
    a.add_argument("--model", default=None, help="the endpoint's model (default $VALUELAB_ANNOTATOR_MODEL)")
    a.add_argument("--cache", default=None, help="resumable cache (default OUT.cache.jsonl)")
    a.set_defaults(func=_annotate)

    j = sub.add_parser("judge", help="train or apply the value judge")
    jsub = j.add_subparsers(dest="judge_command", required=True)
    jt = jsub.add_parser("train", help="train on the dataset's train split")
    jt.add_argument("--out", required=True, help="folder for the saved judge")
    jt.add_argument("--profile", default="classroom", help="smoke | classroom | full")
    jt.add_argument("--mode", choices=["vector", "pairwise"], default=None)
    jt.add_argument("--head", choices=["tanh", "3way"], default=None)
    jt.set_defaults(func=_judge_train)
    js = jsub.add_parser("score", help="value vectors for dialogues in a JSONL file")
    js.add_argument("--judge", required=True, help="a saved judge folder")
    js.add_argument("--in", dest="input", required=True, help="JSONL: FULCRA 'dialogue' or prompt/response")
    js.add_argument("--out", required=True, help="JSONL: id (or dialogue) + scores per value")
    js.set_defaults(func=_judge_score)

    al = sub.add_parser("align", help="align SmolLM2 toward a target value vector")
    al.add_argument("--target", default="ideal", help="a target name, or 10 comma-separated numbers")
    al.add_argument("--method", choices=["grpo", "dpo", "best-of-n"], default="grpo")
    al.add_argument("--out", required=True, help="run folder (grpo: rerun to resume); adapter in OUT/adapter")
    al.add_argument("--judge", default=None, help="a saved judge (default: the classroom judge, cached)")
    al.add_argument("--prompts", default="train", help="train | validation | test, or a prompt JSONL file")
    al.add_argument("--limit", type=int, default=None, help="at most this many prompts")
    al.add_argument("--kind", default="covered",
                    help="reward: covered (default; closes the published reward's loophole) | masked_l1 | l2")
    al.add_argument("--away", default=None, help="grpo: a second target to move away from (name or 10 numbers)")
    al.add_argument("--away-weight", type=float, default=0.75, help="reward -d(target) + w * d(away) with --away")
    al.add_argument("--steps", type=int, default=20, help="grpo updates")
    al.add_argument("--n", type=int, default=8,
                    help="samples per prompt (grpo group, 32 // n prompts per update; dpo k; best-of-N)")
    al.add_argument("--learning-rate", type=float, default=2e-3, help="LoRA learning rate (grpo, dpo)")
    al.add_argument("--beta", type=float, default=0.1, help="grpo: KL(policy || base) penalty (0: none)")
    al.add_argument("--max-new-tokens", type=int, default=48)
    al.add_argument("--seed", type=int, default=0)
    al.add_argument("--engine", choices=["valuelab", "trl"], default="valuelab",
                    help="grpo: valuelab's CPU-fast loop, or TRL's GRPOTrainer (DeepSpeed / vLLM on GPUs)")
    al.add_argument("--use-vllm", action="store_true", help="--engine trl: generate with vLLM")
    al.set_defaults(func=_align)

    ev = sub.add_parser("evaluate", help="a policy against the base model on held-out prompts")
    ev.add_argument("--policy", required=True, help="an adapter folder (or a run folder holding adapter/)")
    ev.add_argument("--prompts", default="test", help="train | validation | test, or a prompt JSONL file")
    ev.add_argument("--target", default="ideal")
    ev.add_argument("--judge", default=None, help="a saved judge (default: the classroom judge, cached)")
    ev.add_argument("--kind", default="covered", help="distance: covered | masked_l1 (published) | l2")
    ev.add_argument("--limit", type=int, default=None)
    ev.add_argument("--out", default=None, help="JSONL of every scored response")
    ev.set_defaults(func=_evaluate)

    w = sub.add_parser("workbook", help="execute the notebooks with papermill")
    w.add_argument("--profile", default="classroom", help="smoke | classroom | full")
    w.add_argument("--out", default="runs/workbook")
    w.add_argument("--only", nargs="*", help="notebook names to run (default: all)")
    w.set_defaults(func=_workbook)

    args = p.parse_args(argv)
    try:
        args.func(args)
    except (ValueError, FileNotFoundError, ImportError, RuntimeError) as e:
        print(f"valuelab {args.command}: error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":  # also `accelerate launch -m valuelab.cli ...`
    sys.exit(main())
