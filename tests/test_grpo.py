import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from valuelab import grpo
from valuelab.generate import Sampling


@pytest.fixture(scope="module")
def policy():
    return grpo.Policy(lora_layers=2)


def _naive_logps(model, samples):
    """One full forward over each (prompt + completion): the reference for the shared-prefix pass."""
    out = []
    for s in samples:
        ids = torch.tensor([s["prompt_ids"] + s["tokens"]])
        logits = model(input_ids=ids).logits[0, len(s["prompt_ids"]) - 1:-1].float()
        out.append(logits.log_softmax(-1).gather(-1, torch.tensor(s["tokens"])[:, None]).squeeze(-1))
    return out


def test_shared_prefix_logps_and_gradients_match_one_pass_per_sample(policy):
    samples = policy.sample(["Say hi.", "What is the capital of France? Answer briefly."], 3,
                            Sampling(temperature=1.0, top_p=1.0, max_new_tokens=8, seed=1), key="t")
    assert len({tuple(s["prompt_ids"]) for s in samples}) == 2 and len({len(s["tokens"]) for s in samples}) >= 1
    params = [p for p in policy.model.parameters() if p.requires_grad]
    logp, mask = grpo.completion_logps(policy.model, samples, policy.tokenizer.pad_token_id)
    (logp * mask).sum().backward()
    shared_grads = [p.grad.clone() for p in params]
    policy.model.zero_grad()
    naive = _naive_logps(policy.model, samples)
    sum(x.sum() for x in naive).backward()
    for k, ref in enumerate(naive):
        n = len(samples[k]["tokens"])
        assert mask[k].sum() == n
        assert torch.allclose(logp[k, :n], ref, atol=2e-4)
    for a, p in zip(shared_grads, params):
        assert torch.allclose(a, p.grad, atol=1e-4, rtol=1e-3)
    policy.model.zero_grad()


def test_group_advantages_and_loss_as_trl():
    r = torch.tensor([1.0, 3.0, 0.0, 0.0])
    a = grpo.group_advantages(r, 2)
    assert torch.allclose(a, torch.tensor([-1, 1, 0, 0]) / (2 ** 0.5 + 1e-4) * torch.tensor([1, 1, 0, 0]))
    logp = torch.tensor([[-1.0, -2.0], [-0.5, -0.1]], requires_grad=True)
    mask = torch.tensor([[1.0, 1.0], [1.0, 0.0]])
    adv = torch.tensor([1.0, -2.0])
    loss = grpo.grpo_loss(logp, logp.detach(), adv, mask)
    assert loss.item() == pytest.approx(-(1 + 1 - 2) / 3)  # ratio 1: -sum(A * mask) / tokens
    loss.backward()
    assert torch.allclose(logp.grad, torch.tensor([[-1 / 3, -1 / 3], [2 / 3, 0.0]]))
    # clipped: a ratio beyond 1 + epsilon with positive advantage gets no gradient
    new = torch.tensor([[0.0]], requires_grad=True)
    grpo.grpo_loss(new, torch.tensor([[-1.0]]), torch.tensor([1.0]), torch.ones(1, 1)).backward()
    assert new.grad.item() == 0


def test_config_rejects_bad_settings():
    with pytest.raises(ValueError, match="num_generations must be >= 2"):
        grpo.GRPOConfig(num_generations=1)
    with pytest.raises(ValueError, match="unknown GRPOConfig keys: lr"):
        grpo.GRPOConfig.from_dict({"lr": 1})
    c = grpo.GRPOConfig()
    assert c.tag() == grpo.GRPOConfig(steps=99, save_every=3).tag()  # a run may grow or checkpoint differently
    assert c.tag() != grpo.GRPOConfig(learning_rate=1e-3).tag() != grpo.GRPOConfig(beta=0.1).tag()


def test_train_learns_resumes_and_the_adapter_reproduces_its_completions(tmp_path):
    prompts = ["Name a colour.", "Say hello.", "Count to three.", "Name a fruit."]

    def shorter(p, completions, **_):  # a plumbing reward: shorter is better
        return [-float(len(c)) for c in completions]

    config = grpo.GRPOConfig(steps=2, prompts_per_step=4, num_generations=4, max_new_tokens=24,
                             learning_rate=3e-3, lora_layers=4, save_every=1)
    h = grpo.train(prompts, shorter, tmp_path, config, progress=False)
    assert h["step"].tolist() == [1, 2] and (tmp_path / "checkpoint-2").exists()
    more = grpo.GRPOConfig(**{**config.__dict__, "steps": 8})
    h, policy = grpo.train(prompts, shorter, tmp_path, more, progress=False, return_policy=True)
    assert h["step"].tolist() == list(range(1, 9))  # resumed at step 3, history kept
    assert h["completion_tokens"].iloc[-2:].mean() < h["completion_tokens"].iloc[:2].mean()
    with pytest.raises(ValueError, match="other settings \\(learning_rate\\)"):
        grpo.train(prompts, shorter, tmp_path, grpo.GRPOConfig(**{**more.__dict__, "learning_rate": 1e-4}))
    s = Sampling(temperature=1.0, top_p=0.9, max_new_tokens=16, seed=3)
    again = grpo.load_policy(tmp_path / "adapter")
    assert again.complete(prompts, s) == policy.complete(prompts, s)
    base = grpo.load_policy()
    assert base.complete(prompts, s) != policy.complete(prompts, s)
    with pytest.raises(FileNotFoundError, match="no adapter in"):
        grpo.load_policy(tmp_path)


def test_two_ranks_end_with_identical_adapters(tmp_path):
    torchrun = Path(sys.executable).with_name("torchrun")
    script = Path(__file__).parent / "scripts" / "grpo_two_ranks.py"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    run = subprocess.run([str(torchrun), "--nproc_per_node", "2", "--master_port", "29517", str(script),
                          str(tmp_path)], env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-2000:]
    a, b = (torch.load(tmp_path / f"rank-{r}.pt") for r in (0, 1))
    assert a["world"] == b["world"] == 2
    assert a["weights"].keys() == b["weights"].keys() and a["weights"]
    for k in a["weights"]:
        assert torch.equal(a["weights"][k], b["weights"][k]), k
    lora_b = [v for k, v in a["weights"].items() if "lora_B" in k]
    assert any(v.abs().sum() > 0 for v in lora_b)  # the updates happened (LoRA B starts at zero)
