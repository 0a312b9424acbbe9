"""Run by tests/test_grpo.py under `torchrun --nproc_per_node 2`: two GRPO updates, then each
rank writes its adapter weights to OUT/rank-N.pt for the test to compare."""
import sys

import torch
import torch.distributed as dist

from valuelab.grpo import GRPOConfig, train

out = sys.argv[1]
prompts = ["Name a colour.", "Say hello.", "Count to three.", "Name a fruit."]
config = GRPOConfig(steps=2, prompts_per_step=4, num_generations=2, max_new_tokens=6, learning_rate=1e-2,
                    lora_layers=2, save_every=100)
history, policy = train(prompts, lambda p, c, **_: [float(len(x)) for x in c], out, config,
                        progress=False, return_policy=True)
rank = dist.get_rank() if dist.is_initialized() else 0
weights = {k: v.detach().clone() for k, v in policy.model.named_parameters() if v.requires_grad}
torch.save({"weights": weights, "world": dist.get_world_size() if dist.is_initialized() else 1},
           f"{out}/rank-{rank}.pt")
