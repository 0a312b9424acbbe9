"""One RL update: valuelab's GRPO loop against TRL's GRPOTrainer with its default settings.

    $ .venv/bin/python bench/align.py            # 8 prompts x 4 completions x 48 new tokens
    $ .venv/bin/python bench/align.py --steps 3  # time the mean of steps 2..3

Same batch for both: 8 prompts from the shipped bank, 4 completions each, 48 new tokens,
SmolLM2-135M-Instruct with LoRA r=8 / alpha=16 on q, k, v, o; the reward is the BaseAlign reward of
an all-MiniLM-L6-v2 judge (untrained head: speed does not depend on training). Same loss: TRL's
default (``loss_type="dapo"``, group-scaled advantages, beta 0, temperature 1, top-p 1).
TRL's side is ``GRPOTrainer`` as a user would start it: defaults except the batch shape, CPU and
``report_to``; LoRA on every layer. valuelab's side: ``valuelab.grpo`` defaults (LoRA on the top 8
layers, sampling by the decode engine, bfloat16 autocast). The first update of each is a warm-up;
the time reported is the mean of the later ones. Run on a quiet machine.
"""
import argparse
import tempfile
import time

import torch

from valuelab.align import make_reward_function
from valuelab.data import load_prompts
from valuelab.grpo import GRPOConfig, train
from valuelab.judge import Judge, JudgeConfig, JudgeModel
from valuelab.models import load_encoder


def untrained_judge():
    encoder, tokenizer = load_encoder()
    torch.manual_seed(0)
    return Judge(JudgeConfig(max_length=128), JudgeModel(encoder, 10), tokenizer)


def trl_update_seconds(prompts, reward_fn, steps: int) -> float:
    from peft import LoraConfig
    from transformers import TrainerCallback
    from trl import GRPOConfig as TRLConfig
    from trl import GRPOTrainer

    from valuelab.align import prompt_dataset
    from valuelab.models import load_chat_model

    times = []

    class Clock(TrainerCallback):
        def on_step_begin(self, *a, **k):
            self.t = time.perf_counter()

        def on_step_end(self, *a, **k):
            times.append(time.perf_counter() - self.t)

    model, tokenizer = load_chat_model()
    tokenizer.padding_side = "left"
    with tempfile.TemporaryDirectory() as out:
        config = TRLConfig(output_dir=out, use_cpu=True, report_to="none", save_strategy="no",
                           num_generations=4, per_device_train_batch_size=32, max_completion_length=48,
                           max_steps=steps)
        lora = LoraConfig(r=8, lora_alpha=16, target_modules=["q_proj", "k_proj", "v_proj", "o_proj"],
                          task_type="CAUSAL_LM")
        dataset = prompt_dataset(prompts.loc[prompts.index.repeat(steps)])
        trainer = GRPOTrainer(model=model, reward_funcs=[reward_fn], args=config, train_dataset=dataset,
                              processing_class=tokenizer, peft_config=lora, callbacks=[Clock()])
        trainer.train()
    return sum(times[1:]) / len(times[1:])


def valuelab_update_seconds(prompts, reward_fn, steps: int) -> float:
    with tempfile.TemporaryDirectory() as out:
        history = train(prompts, reward_fn, out, GRPOConfig(steps=steps, prompts_per_step=8, num_generations=4,
                                                            max_new_tokens=48, save_every=10**6), progress=False)
    return history["seconds"].iloc[1:].mean()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--steps", type=int, default=2, help="updates per side; the first is a warm-up")
    args = p.parse_args()
    if args.steps < 2:
        p.error("--steps must be >= 2 (the first update is a warm-up)")
    torch.set_num_threads(max(1, torch.get_num_threads()))
    prompts = load_prompts().sample(8, random_state=0)[["id", "text"]].reset_index(drop=True)
    reward_fn = make_reward_function(untrained_judge())
    ours = valuelab_update_seconds(prompts, reward_fn, args.steps)
    print(f"valuelab GRPO loop     {ours:6.1f} s per update (8 prompts x 4 completions x 48 tokens)", flush=True)
    theirs = trl_update_seconds(prompts, reward_fn, args.steps)
    print(f"TRL GRPOTrainer default {theirs:6.1f} s per update")
    print(f"ratio {theirs / ours:.2f}x")


if __name__ == "__main__":
    main()
