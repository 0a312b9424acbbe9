import json
import os
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest
import torch

from valuelab import generate as G

PROMPTS = ["Give me one tip for sleeping better.", "What is 2 + 2?", "Name a colour.",
           "Should I learn the violin or the piano? Answer briefly.", "Say hello in French.",
           "Is it ever fine to lie to a friend?", "Write a four-word poem.", "Why is the sky blue?",
           "Suggest a name for a cat.", "How do I boil an egg?", "What is a verb?"]


@pytest.fixture(scope="module")
def fast():
    return G.TransformersBackend(engine="fast", batch_size=4)


@pytest.fixture(scope="module")
def fast_fp32():
    return G.TransformersBackend(engine="fast", batch_size=4, bf16=False)


@pytest.fixture(scope="module")
def plain():
    return G.TransformersBackend(engine="plain", batch_size=4)


def _reqs(texts, seed=0):
    return [G.Request(t, None, G.row_seed(seed, str(i))) for i, t in enumerate(texts)]


def test_sampling_validated():
    with pytest.raises(ValueError, match="temperature"):
        G.Sampling(temperature=-1)
    with pytest.raises(ValueError, match="top_p"):
        G.Sampling(top_p=0)
    with pytest.raises(ValueError, match="unknown persona"):
        G.persona_system("pirate")
    assert G.persona_system("plain") is None and "power" in G.persona_system("power+")
    assert len(G.PERSONAS) == 21


def test_fast_engine_matches_transformers_greedy(fast_fp32, plain):
    """The decode loop (cache, masks, positions, dropped rows) reproduces model.generate exactly."""
    greedy = G.Sampling(temperature=0, max_new_tokens=24)
    reqs = _reqs(PROMPTS[:6])
    ours = fast_fp32.complete(reqs, greedy)
    ref = plain.complete(reqs, greedy)
    assert [c.text for c in ours] == [c.text for c in ref]
    assert [c.finish_reason for c in ours] == [c.finish_reason for c in ref]


def test_nucleus_sampling_is_exact():
    logits = torch.log(torch.tensor([[0.5, 0.3, 0.15, 0.05] + [0.0] * 96]).clamp_min(1e-12)).repeat(400, 1)
    gens = [torch.Generator().manual_seed(i) for i in range(400)]
    picks = G._sample(logits, gens, G.Sampling(temperature=1.0, top_p=0.7), k=2)
    # nucleus for 0.7 = {0, 1}; renormalised 0.625 / 0.375
    assert set(picks.tolist()) == {0, 1}
    assert abs((picks == 0).float().mean().item() - 0.625) < 0.08
    # a flat row whose nucleus is wider than k falls back to the full sort
    flat = torch.zeros(1, 100)
    pick = G._sample(flat, [torch.Generator().manual_seed(0)], G.Sampling(temperature=1.0, top_p=0.9), k=4)
    assert 0 <= pick.item() < 100
    assert G._sample(logits[:1], gens[:1], G.Sampling(temperature=0)).item() == 0


def test_plain_sampling_matches_the_distribution():
    probs = torch.tensor([0.5, 0.3, 0.15, 0.05] + [0.0] * 96)
    logits = torch.log(probs.clamp_min(1e-30)).repeat(4000, 1)
    gens = [torch.Generator().manual_seed(i) for i in range(4000)]
    picks = G._sample(logits, gens, G.Sampling(temperature=1.0, top_p=1.0))
    freq = torch.bincount(picks, minlength=100).float() / len(picks)
    assert (freq[4:] == 0).all()  # never a token of probability zero
    assert torch.allclose(freq[:4], probs[:4], atol=0.03)


def test_seeded_and_independent_of_batch_neighbours(fast):
    s = G.Sampling(temperature=1.0, max_new_tokens=12)
    a = fast.complete(_reqs(PROMPTS[:4], seed=1), s)
    b = fast.complete(_reqs(PROMPTS[:4], seed=1), s)
    c = fast.complete(_reqs(PROMPTS[:4], seed=2), s)
    assert [x.text for x in a] == [x.text for x in b]
    assert [x.text for x in a] != [x.text for x in c]
    assert all(x.n_tokens <= 12 for x in a)


def test_samples_of_one_prompt_share_a_prefill(fast):
    same = [G.Request(PROMPTS[0], None, seed) for seed in (11, 12, 13)]
    greedy = fast.complete(same + [G.Request(PROMPTS[1], None, 14)], G.Sampling(temperature=0, max_new_tokens=10))
    alone = fast.complete(same[:1], G.Sampling(temperature=0, max_new_tokens=10))[0]
    assert greedy[0].tokens == greedy[1].tokens == greedy[2].tokens == alone.tokens
    sampled = fast.complete(same, G.Sampling(temperature=1.0, max_new_tokens=10))
    assert len({c.tokens for c in sampled}) > 1  # each request its own seed


def test_generate_run_records_and_settings_check(tmp_path, fast):
    prompts = pd.DataFrame({"id": [f"q{i}" for i in range(5)], "text": PROMPTS[:5]})
    s = G.Sampling(max_new_tokens=8)
    df = G.generate(prompts, tmp_path / "run", fast, persona="security+", sampling=s, n=2, progress=False)
    assert len(df) == 10 and df["id"].is_unique
    assert sorted(df.groupby("prompt_id").size().tolist()) == [2] * 5
    row = df.iloc[0]
    assert row.model == "smollm2-135m-instruct" and row.persona == "security+"
    assert row.temperature == 0.7 and row.max_new_tokens == 8 and row.seed == 0
    assert "security" in row.system_prompt and row.engine == "fast"
    with pytest.raises(ValueError, match="other settings .*temperature"):
        G.generate(prompts, tmp_path / "run", fast, persona="security+",
                   sampling=G.Sampling(temperature=0.2, max_new_tokens=8), n=2, progress=False)
    plain = G.Sampling(top_p=1.0, max_new_tokens=4)  # a top_p = 1 run begun by the old sampler is refused
    G.generate(prompts, tmp_path / "p1", fast, sampling=plain, progress=False)
    old = json.loads((tmp_path / "p1" / "run.json").read_text())
    assert old.pop("sampler") == "sort-free"
    (tmp_path / "p1" / "run.json").write_text(json.dumps(old))
    with pytest.raises(ValueError, match="other settings .*sampler"):
        G.generate(prompts, tmp_path / "p1", fast, sampling=plain, progress=False)
    with pytest.raises(ValueError, match="duplicate prompt ids"):
        G.generate(pd.DataFrame({"id": ["a", "a"], "text": ["x", "y"]}), tmp_path / "dup", fast)


def _shards(out):
    return len(list(out.glob("shard-*.jsonl")))


def test_killed_runs_resume_exactly_once(tmp_path):
    """SIGKILL a CLI run twice mid-way; the finished run equals an uninterrupted one."""
    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text("".join(json.dumps({"id": f"k{i:02d}", "text": t}) + "\n"
                               for i, t in enumerate(PROMPTS * 2)))
    cmd = [sys.executable, "-m", "valuelab.cli", "generate", "--prompts", str(prompts),
           "--max-new-tokens", "6", "--batch-size", "2", "--quiet", "--temperature", "1.0"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    out = tmp_path / "killed"
    kills = 0
    for _ in range(2):
        before = _shards(out) if out.exists() else 0
        p = subprocess.Popen(cmd + ["--out", str(out)], env=env, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
        deadline = time.time() + 120
        while time.time() < deadline and p.poll() is None and (not out.exists() or _shards(out) <= before):
            time.sleep(0.02)
        if p.poll() is None:
            p.send_signal(signal.SIGKILL)
            kills += 1
        p.wait()
    assert kills == 2, "the run finished before it could be killed twice"
    assert 0 < _shards(out) < 11
    subprocess.run(cmd + ["--out", str(out)], env=env, check=True, capture_output=True)
    clean = tmp_path / "clean"
    subprocess.run(cmd + ["--out", str(clean)], env=env, check=True, capture_output=True)
    a, b = G.read_run(out), G.read_run(clean)
    assert len(a) == 22 and a["id"].is_unique
    assert a.sort_values("id").to_dict("records") == b.sort_values("id").to_dict("records")
    assert not list(out.glob(".shard*"))  # no half-written temporary files left visible


def test_openai_backend_against_local_server(fake_openai, tmp_path):
    url, server = fake_openai
    be = G.OpenAIBackend("test-model", base_url=url, api_key="k", max_retries=2, timeout=5)
    df = G.generate(["first prompt", "second prompt"], tmp_path / "api", be, persona="power-",
                    sampling=G.Sampling(max_new_tokens=20), progress=False)
    assert sorted(df.response) == ["echo: first prompt", "echo: second prompt"]
    assert df.backend.unique().tolist() == ["openai"] and df.model.unique().tolist() == ["test-model"]
    sent = server.seen[0]
    assert sent["messages"][0]["role"] == "system" and "power" in sent["messages"][0]["content"]
    assert sent["max_tokens"] == 20 and sent["temperature"] == 0.7
    server.script = ["500", "ok"]  # the client retries server errors
    assert be.complete([G.Request("again", None, 1)], G.Sampling())[0].text == "echo: again"


def test_openai_backend_needs_url(monkeypatch):
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    with pytest.raises(ValueError, match="OPENAI_BASE_URL"):
        G.OpenAIBackend("m")


def test_vllm_backend_import_guarded():
    pytest.importorskip("torch")
    try:
        import vllm  # noqa: F401
        pytest.skip("vLLM is installed here")
    except ImportError:
        pass
    with pytest.raises(ImportError, match="pip install vllm"):
        G.VLLMBackend("smollm2")
    with pytest.raises(ValueError, match="unknown backend"):
        G.make_backend("llama.cpp")
