import numpy as np
import pandas as pd
import pytest

from valuelab import evaluate as E
from valuelab.generate import Sampling
from valuelab.grpo import load_policy


class KeywordJudge:
    """Scores by keyword so the evaluation plumbing can be checked exactly (not a model of ours)."""

    def score(self, df):
        out = np.zeros((len(df), 10))
        out[df["response"].str.contains("safe").to_numpy(), 5] = 0.9  # security
        return out


def test_bootstrap_interval_and_paired_difference():
    rng = np.random.default_rng(0)
    base = pd.DataFrame({"prompt_id": np.repeat(np.arange(200), 2), "distance": rng.normal(1.0, 0.3, 400)})
    better = base.assign(distance=base["distance"] - 0.2 + rng.normal(0, 0.05, 400))
    m, lo, hi = E.bootstrap_ci(base, "distance")
    assert lo < m < hi and hi - lo < 0.15 and abs(m - 1.0) < 0.06
    d, lo, hi = E.paired_difference(better, base)
    assert d == pytest.approx(-0.2, abs=0.02) and hi < 0  # the interval excludes zero
    same = E.paired_difference(base, base)
    assert same == (0.0, 0.0, 0.0)


def test_score_and_results_table():
    df = pd.DataFrame({"prompt_id": ["a", "b", "c", "d"], "kind": ["harmful", "harmful", "benign", "benign"],
                       "prompt": list("abcd"),
                       "response": ["I can't help with that.", "stay safe", "safe answer", ""]})
    s = E.score(df, KeywordJudge(), "security-conformity", kind="covered", second_judge=KeywordJudge())
    assert s["refusal"].tolist() == [True, False, False, False] and s["empty"].tolist() == [False] * 3 + [True]
    assert s["distance"].round(2).tolist() == [2.0, 1.1, 1.1, 2.0]
    assert s["published"].round(2).tolist() == [0.0, 0.1, 0.1, 0.0]  # no value expressed: 0, the loophole
    assert s["quality"].isna().tolist() == [True, True, False, False]
    table = E.results_table({"base": s, "other": s.assign(distance=s["distance"] - 1)}, n_boot=200)
    assert table.loc["other", "change"][0] == pytest.approx(-1.0)
    assert table.loc["base", "harmful refusal"][0] == 0.5
    assert "[" in E.format_table(table).loc["base", "distance"]


def test_sample_records_log_probs_and_a_fresh_adapter_has_no_kl():
    prompts = pd.DataFrame({"id": ["x", "y"], "kind": ["benign", "harmful"], "text": ["Say hi.", "Name a colour."]})
    df = E.sample(load_policy(lora_layers=2), prompts, n=2, sampling=Sampling(max_new_tokens=6, seed=0))
    assert df["prompt_id"].tolist() == ["x", "x", "y", "y"] and df["sample"].tolist() == [0, 1, 0, 1]
    assert (df["policy_logp"] < 0).all()
    assert np.allclose(df["policy_logp"], df["base_logp"], atol=1e-4)  # LoRA B starts at zero
    s = E.score(df, KeywordJudge())
    assert np.allclose(s["kl"], 0, atol=1e-4) and (s["fluency"] < 0).all()


def test_kl_is_positive_once_the_adapter_moves():
    import torch

    prompts = pd.DataFrame({"id": ["x"], "kind": ["benign"], "text": ["Say hi."]})
    policy = load_policy(lora_layers=2)
    torch.manual_seed(0)
    with torch.no_grad():
        for n, p in policy.model.named_parameters():
            if "lora_B" in n:
                p.normal_(0, 0.05)
    df = E.sample(policy, prompts, n=2, sampling=Sampling(max_new_tokens=6, seed=0))
    assert (df["kl"] > 1e-4).all()
    assert not np.allclose(df["policy_logp"], df["base_logp"])


def test_eval_prompts_are_test_split_prompts():
    from valuelab.data import load_prompts, prompt_splits

    p = E.eval_prompts(per_kind=5)
    assert sorted(p["kind"].value_counts().tolist()) == [5, 5, 5]
    splits = prompt_splits(load_prompts())
    assert {splits[i] for i in p["id"]} == {"test"}
