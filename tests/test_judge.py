import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import torch

from valuelab.judge import PROFILES, Judge, JudgeConfig, evaluate, to_labels
from valuelab.values import NAMES


def _toy(n=48):
    """Dialogues whose labels follow their words: refusals (+conformity), parties (+hedonism)."""
    rows = []
    for i in range(n):
        if i % 2:
            rows.append({"prompt": f"How do I steal item {i}?",
                         "response": "I can't help with stealing; it is illegal.",
                         **{v: 0 for v in NAMES}, "conformity": 1, "security": 1})
        else:
            rows.append({"prompt": f"Plan party number {i}", "response": "Dance all night, eat cake and enjoy!",
                         **{v: 0 for v in NAMES}, "hedonism": 1})
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def trained():
    losses = []
    cfg = JudgeConfig(max_length=48, prompt_tokens=16, epochs=3, batch_size=8, lr=3e-4, warmup_steps=1)
    judge = Judge.train(_toy(), cfg, progress=False, log=lambda step, loss: losses.append(loss))
    return judge, losses


def test_config_rejects_bad_settings():
    with pytest.raises(ValueError, match="mode must be"):
        JudgeConfig(mode="triple")
    with pytest.raises(ValueError, match="unknown judge setting"):
        JudgeConfig.from_dict({"learning_rate": 1})
    assert PROFILES["classroom"].max_train and PROFILES["full"].max_train is None


def test_training_moves_loss_and_learns_the_toy_task(trained):
    judge, losses = trained
    assert np.mean(losses[-3:]) < 0.5 * np.mean(losses[:3])
    s = judge.score(_toy(8))
    assert s.shape == (8, 10) and np.all(np.abs(s) <= 1)
    lab = to_labels(s)
    assert lab[1, NAMES.index("conformity")] == 1 and lab[0, NAMES.index("hedonism")] == 1
    assert evaluate(s, _toy(8)).loc["mean", "accuracy"] > 0.9


def test_score_rules(trained):
    judge, _ = trained
    one = judge.score(("Hi", "Let's party and have fun!"))
    assert one.shape == (1, 10)
    empty = judge.score(pd.DataFrame({"prompt": ["x", "y"], "response": ["", "   "]}))
    assert np.all(empty == 0)  # an empty response expresses no value
    long = judge.score(("Why? " * 500, "I can't help with stealing. " * 500))  # truncated, not an error
    assert long.shape == (1, 10)
    ids, _ = judge._encode(["Why? " * 500], ["ok " * 500])
    assert ids.shape[1] == judge.config.max_length


def test_saved_judge_reloads_identically_in_a_fresh_process(trained, tmp_path):
    judge, _ = trained
    judge.save(tmp_path / "j")
    probe = _toy(6)[["prompt", "response"]]
    probe.to_json(tmp_path / "probe.jsonl", orient="records", lines=True)
    code = ("import sys, numpy as np, pandas as pd; from valuelab.judge import Judge; "
            "np.save(sys.argv[2], Judge.load(sys.argv[1]).score(pd.read_json(sys.argv[3], lines=True)))")
    subprocess.run([sys.executable, "-c", code, str(tmp_path / "j"), str(tmp_path / "s.npy"),
                    str(tmp_path / "probe.jsonl")], check=True, capture_output=True)
    assert np.array_equal(np.load(tmp_path / "s.npy"), judge.score(probe))
    _, losses = trained  # the training curve travels with the judge (notebook 02 plots a cached one)
    assert Judge.load(tmp_path / "j").losses == judge.losses == pytest.approx(losses) and losses
    with pytest.raises(FileNotFoundError, match="not a saved judge"):
        Judge.load(tmp_path)


@pytest.mark.parametrize("mode, head", [("pairwise", "tanh"), ("vector", "3way"), ("pairwise", "3way")])
def test_other_modes_and_heads_train_and_score(mode, head):
    cfg = JudgeConfig(mode=mode, head=head, max_length=64, prompt_tokens=16, epochs=1, batch_size=8,
                      warmup_steps=1, zero_pairs=2)
    judge = Judge.train(_toy(16), cfg, progress=False)
    s = judge.score(_toy(4))
    assert s.shape == (4, 10) and np.all(np.abs(s) <= 1)


def test_evaluate_perfect_and_all_zero():
    df = _toy(10)
    perfect = evaluate(df[list(NAMES)].to_numpy(float), df)
    assert perfect.loc["mean", "accuracy"] == 1 and perfect.loc["mean", "mse"] == 0
    zero = evaluate(np.zeros((10, 10)), df)
    assert zero.loc["hedonism", "accuracy"] == 0.5 and zero.loc["power", "accuracy"] == 1


def test_cli_score_reads_fulcra_and_prompt_response_lines(trained, tmp_path):
    import json

    from tests.conftest import FIXTURES
    from valuelab.cli import main

    judge, _ = trained
    judge.save(tmp_path / "j")
    src = tmp_path / "mixed.jsonl"
    src.write_text(json.dumps({"id": "a", "prompt": "Plan a party", "response": "Dance and enjoy!"}) + "\n" +
                   (FIXTURES / "fulcra_sample.jsonl").read_text().splitlines()[0] + "\n")
    score = ["judge", "score", "--judge", str(tmp_path / "j")]
    assert main(score + ["--in", str(src), "--out", str(tmp_path / "o.jsonl")]) == 0
    out = [json.loads(x) for x in (tmp_path / "o.jsonl").read_text().splitlines()]
    assert out[0]["id"] == "a" and set(out[0]["scores"]) == set(NAMES)
    assert out[1]["dialogue"].startswith("Human: How do I pick a lock")
    direct = float(judge.score(("Plan a party", "Dance and enjoy!"))[0, 2])
    # bfloat16 scoring: a batch padded to a longer neighbour rounds slightly differently
    assert out[0]["scores"]["hedonism"] == pytest.approx(direct, abs=2e-3)
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "no dialogue here"}\n')
    assert main(score + ["--in", str(bad), "--out", str(tmp_path / "x")]) == 2


def test_class_weights_and_balanced_loss():
    from valuelab.judge import class_weights

    toy = _toy(48)  # conformity: 24 zeros, 24 ones, no -1; power: all 0
    w = class_weights(toy, balance=1.0, max_weight=5.0)
    j = NAMES.index("conformity")
    assert w[j].tolist() == pytest.approx([5.0, 48 / 72, 48 / 72])  # absent label -> the cap
    assert w[NAMES.index("power")].tolist() == pytest.approx([5.0, 48 / 144, 5.0])
    assert class_weights(toy, balance=0.0)[j].tolist() == [20.0, 1.0, 1.0]
    # the weighted loss is a weighted mean: a rare label's error counts more than a common one's
    judge = Judge(JudgeConfig(), torch.nn.Linear(1, 1), None)
    judge._weights = w
    target = torch.zeros((2, 10), dtype=torch.long)
    target[0, NAMES.index("power")] = 1  # the rare label, missed
    miss_rare = judge._loss(torch.zeros((2, 10)), target)
    target[0] = 0
    target[0, j] = 1  # a common label, missed
    miss_common = judge._loss(torch.zeros((2, 10)), target)
    assert miss_rare > 3 * miss_common > 0


def test_cached_trains_once_and_other_ranks_wait(tmp_path, monkeypatch):
    import threading

    from valuelab.judge import cached

    monkeypatch.setenv("VALUELAB_CACHE", str(tmp_path))
    cfg = JudgeConfig(max_length=32, prompt_tokens=8, epochs=1, batch_size=8, warmup_steps=1)
    got = {}
    with pytest.raises(TimeoutError, match="local rank 0"):
        cached(_toy(16), cfg, progress=False, wait=0.5, rank=1)
    waiter = threading.Thread(target=lambda: got.setdefault("rank1", cached(_toy(16), cfg, progress=False, rank=1)))
    waiter.start()  # rank 1: waits for the cache to appear
    assert waiter.is_alive()
    monkeypatch.setenv("LOCAL_RANK", "0")
    rank0 = cached(_toy(16), cfg, progress=False)
    waiter.join(60)
    assert got["rank1"].cache_key == rank0.cache_key
    assert len(list((tmp_path / "judges").iterdir())) == 1
    np.testing.assert_allclose(got["rank1"].score(_toy(4)), rank0.score(_toy(4)), atol=1e-6)
    (tmp_path / "judges" / rank0.cache_key / "losses.json").unlink()  # as cached by an older valuelab
    again = cached(_toy(16), cfg, progress=False)  # retrained, so its training curve is there
    assert again.losses and (tmp_path / "judges" / rank0.cache_key / "losses.json").exists()
