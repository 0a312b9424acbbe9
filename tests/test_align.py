import numpy as np
import pandas as pd
import pytest

from valuelab import align
from valuelab.values import target


class FixedJudge:
    """Scores by keyword so the reward plumbing can be checked exactly (not a model of ours)."""

    def score(self, df):
        out = np.zeros((len(df), 10))
        for i, r in enumerate(df["response"]):
            if "illegal" in r:
                out[i, [5, 7, 8]] = 0.9  # security, conformity, benevolence
            if "steal" in r:
                out[i, [5, 7]] = -0.8
        return out


def test_published_reward_hand_computed_and_its_loophole():
    v = np.array([[0, 0, 0, 0, 0, 0.9, 0, 0.9, 0.9, 0], [0] * 10, [0, 0, 0, 0, 0, -0.8, 0, -0.8, 0, 0]])
    r = align.reward(v, "ideal")
    # refusal: AC, UN unexpressed (masked); SE, CO, BE each |0.9 - 1| = 0.1
    assert r[0] == pytest.approx(-0.3)
    assert r[1] == 0  # silence earns the maximal reward: the loophole
    assert r[2] == pytest.approx(-3.6)  # |-0.8 - 1| * 2
    assert r[1] > r[0]  # ...so saying nothing beats a good refusal


def test_covered_reward_closes_the_loophole():
    v = np.array([[0, 0, 0, 0, 0, 0.9, 0, 0.9, 0.9, 0], [0] * 10])
    r = align.reward(v, "ideal", kind="covered")
    assert r[1] == pytest.approx(-5.0)  # sum of t_i^2 over the five target values
    assert r[0] == pytest.approx(-(0.1 * 3 + 1 + 1))
    assert r[0] > r[1]
    assert align.reward(target("ideal").array[None], "ideal", kind="covered")[0] == 0


def test_l2_and_bad_kind():
    assert align.reward(np.zeros((1, 10)), "power", kind="l2")[0] == pytest.approx(-1)
    with pytest.raises(ValueError, match="unknown reward kind"):
        align.reward(np.zeros((1, 10)), "ideal", kind="cosine-ish")


def test_trl_reward_function_uses_per_row_targets():
    fn = align.make_reward_function(FixedJudge())
    prompts = ["How do I steal a car?"] * 3
    completions = ["That's illegal, I won't help.", "First, steal the keys.", "Sure."]
    r = fn(prompts, completions)
    assert r[2] == 0 > r[0] > r[1]  # the loophole again: "Sure." beats the refusal
    per_row = fn(prompts[:2], completions[:2], target=["security", [0.0] * 9 + [1.0]])
    assert per_row[0] == pytest.approx(-0.1) and per_row[1] == 0  # universalism unexpressed: masked
    chat = fn([[{"role": "user", "content": "q"}]], [[{"role": "assistant", "content": "illegal"}]])
    assert chat[0] == pytest.approx(-0.3)
    assert fn.__name__ == "basealign_masked_l1"


def test_contrastive_reward_toward_one_target_away_from_another():
    """-d(v, own) + w * d(v, away), hand-computed with the covered distance."""
    fn = align.make_reward_function(FixedJudge(), "covered", default_target="security",
                                    away="conformity", away_weight=0.5)
    r = fn(["q", "q"], ["That's illegal.", "Sure."])
    # "illegal": security, conformity, benevolence 0.9 -> d(security) = 0.1, d(conformity) = 0.1
    assert r[0] == pytest.approx(-0.1 + 0.5 * 0.1)
    assert r[1] == pytest.approx(-1 + 0.5 * 1)  # silence: both distances 1
    assert fn.__name__ == "basealign_covered_contrast"
    plain = align.make_reward_function(FixedJudge(), "covered", default_target="security", away="conformity")
    assert plain(["q"], ["Sure."]) == [-1.0] and plain.__name__ == "basealign_covered"  # weight 0: plain
    with pytest.raises(ValueError, match="away_weight must be >= 0"):
        align.make_reward_function(FixedJudge(), away="uk", away_weight=-1)


class LengthJudge:
    """Security falls with the completion's length: rewards differ within a GRPO group."""

    def score(self, df):
        out = np.zeros((len(df), 10))
        out[:, 5] = [-min(len(r), 40) / 40 for r in df["response"]]
        return out


def test_grpo_with_lora_updates_the_adapter(tmp_path):
    """Two TRL GRPO steps on SmolLM2 with LoRA and the judge's reward: the adapter moves."""
    import torch

    ds = align.prompt_dataset(["How do I steal a bike?", "Plan a fun day."] * 2, "ideal")
    assert ds[0]["target"] == "ideal" and ds[0]["prompt"][0]["role"] == "user"
    trainer = align.grpo_train(ds, LengthJudge(), tmp_path, max_steps=2, max_completion_length=8,
                               num_generations=2, per_device_train_batch_size=2, learning_rate=1e-3)
    lora = {n: p.detach().clone() for n, p in trainer.model.named_parameters() if "lora_B" in n}
    assert lora and any(p.abs().sum() > 0 for p in lora.values())  # lora_B starts at zero
    logged = [h for h in trainer.state.log_history if "reward" in h]
    assert len(logged) == 2 and all(h["reward"] <= 0 for h in logged)
    assert torch.isfinite(torch.tensor([h["loss"] for h in trainer.state.log_history if "loss" in h])).all()


def _samples():
    # two prompts, three samples each; FixedJudge: "illegal" -> safe values, "steal" -> violations
    return pd.DataFrame({"prompt_id": ["a"] * 3 + ["b"] * 3, "prompt": ["pa"] * 3 + ["pb"] * 3,
                         "response": ["ok", "steal it", "that is illegal", "hm", "fine", "well"]})


def test_best_of_n_and_map_reweighting_pick_by_the_judge():
    best = align.best_of_n(_samples(), FixedJudge(), "ideal", kind="covered")
    assert best.set_index("prompt_id").loc["a", "response"] == "that is illegal"
    picks = [align.map_reweight(_samples(), FixedJudge(), "ideal", "covered", lam=50, seed=s)
             .set_index("prompt_id").loc["a", "response"] for s in range(5)]
    assert set(picks) == {"that is illegal"}  # large lambda: best-of-N
    flat = [align.map_reweight(_samples(), FixedJudge(), "ideal", "covered", lam=0, seed=s)
            .set_index("prompt_id").loc["a", "response"] for s in range(40)]
    assert len(set(flat)) == 3  # lambda 0: the policy's own samples, uniformly
    with pytest.raises(ValueError, match="missing \\['prompt_id'\\]"):
        align.best_of_n(_samples().drop(columns="prompt_id"), FixedJudge())


def test_dpo_pairs_closest_against_farthest():
    pairs = align.dpo_pairs(_samples(), FixedJudge(), "ideal", kind="covered")
    assert pairs["prompt_id"].tolist() == ["a"]  # prompt b's samples all score alike: no pair
    row = pairs.iloc[0]
    assert (row["chosen"], row["rejected"]) == ("that is illegal", "steal it") and row["gap"] > 0


def test_dpo_train_saves_an_adapter_that_loads(tmp_path):
    from valuelab.grpo import load_policy

    pairs = pd.DataFrame({"prompt_id": ["a", "b"], "prompt": ["Say hi.", "Name a fruit."],
                          "chosen": ["Hello!", "An apple."], "rejected": ["Go away.", "Rocks."]})
    trainer = align.dpo_train(pairs, tmp_path, max_steps=2, per_device_train_batch_size=2, learning_rate=1e-3)
    assert trainer.state.global_step == 2
    policy = load_policy(tmp_path / "adapter")
    lora_b = [p for n, p in policy.model.named_parameters() if "lora_B" in n]
    assert lora_b and any(p.abs().sum() > 0 for p in lora_b)
    with pytest.raises(ValueError, match="no preference pairs"):
        align.dpo_train(pairs.iloc[:0], tmp_path / "x")
