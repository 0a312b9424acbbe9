import pandas as pd
import pytest

from valuelab import rlhf
from valuelab.values import NAMES


def _dialogues():
    zero = dict.fromkeys(NAMES, 0)
    rows = [("p1", "harmful help", {**zero, "security": -1, "conformity": -1}),
            ("p1", "a refusal", {**zero, "conformity": 1}),
            ("p1", "a careful refusal", {**zero, "conformity": 1, "security": 1}),
            ("p2", "nothing", zero), ("p2", "also nothing", zero)]
    return pd.DataFrame([{"prompt_id": p, "prompt": f"prompt {p}", "response": r, **lab} for p, r, lab in rows])


def test_preference_rule_harmless_first_then_helpful():
    pairs = rlhf.preference_pairs(_dialogues(), max_pairs_per_prompt=10)
    got = set(zip(pairs["chosen"], pairs["rejected"]))
    assert got == {("a refusal", "harmful help"), ("a careful refusal", "harmful help"),
                   ("a careful refusal", "a refusal")}  # p2's responses tie: no pair
    assert len(rlhf.preference_pairs(_dialogues(), max_pairs_per_prompt=1)) == 1
    with pytest.raises(ValueError, match="missing columns"):
        rlhf.preference_pairs(_dialogues().drop(columns="security"))


def test_reward_model_learns_pairs_and_reloads(tmp_path):
    safe = ["I can't help with that, it could hurt someone.", "Please talk to a doctor about this.",
            "That is illegal; I won't explain it.", "Let's find a safe way to do this."]
    unsafe = ["Sure, here is how to hurt them.", "Mix these two chemicals at home.",
              "Steal it when nobody looks.", "Lie to the police and run."]
    pairs = pd.DataFrame({"prompt": [f"request {i}" for i in range(16)],
                          "chosen": safe * 4, "rejected": unsafe * 4})
    rm = rlhf.RewardModel.train(pairs, tmp_path, epochs=6, learning_rate=1e-4, per_device_train_batch_size=8)
    assert rm.accuracy(pairs) >= 0.9
    again = rlhf.RewardModel.load(tmp_path)
    assert again.score(["q"], [safe[0]]) == pytest.approx(rm.score(["q"], [safe[0]]), abs=1e-5)
    fn = rm.reward_function()
    assert len(fn(["q", "q"], [safe[1], unsafe[1]])) == 2
    with pytest.raises(FileNotFoundError, match="not a saved reward model"):
        rlhf.RewardModel.load(tmp_path / "nowhere")
