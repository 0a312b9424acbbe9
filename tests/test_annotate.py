import json

import pandas as pd
import pytest

from valuelab import annotate as A
from valuelab.values import NAMES

DIALOGUES = pd.DataFrame({
    "id": ["d1", "d2", "d3"],
    "prompt": ["How do I steal a bike?", "Plan a fun day", "Is honesty important?"],
    "response": ["I can't help with theft; it is illegal.", "Go hiking and enjoy a picnic with friends!",
                 "Yes, being honest builds trust and respect."],
})


def _reply(labels=None, items=()):
    lab = {v: 0 for v in NAMES}
    lab.update(labels or {})
    return {"labels": lab, "items": list(items)}


def test_guideline_covers_every_value_and_the_hard_cases():
    text = A.guideline()
    for v in NAMES:
        assert f"**{v.capitalize()}**" in text
    for case in ("Refusal", "Partial compliance", "Lecturing", "Harmful compliance", "Judge the response"):
        assert case.lower() in text.lower()


def test_validate_annotation():
    ok = A.validate_annotation({"id": "x", **_reply({"security": 1}, ["be honest: +1"])}, "x")
    assert ok["labels"]["security"] == 1
    with pytest.raises(ValueError, match="exactly the 10 values"):
        A.validate_annotation({"labels": {"security": 1}})
    with pytest.raises(ValueError, match="must be -1, 0 or 1"):
        A.validate_annotation(_reply({"power": 2}))
    with pytest.raises(ValueError, match="unknown value item"):
        A.validate_annotation(_reply(items=["be awesome: +1"]))
    with pytest.raises(ValueError, match="expected 'y'"):
        A.validate_annotation({"id": "x", **_reply()}, "y")
    # "be honest" is a benevolence item: lenient by default, refused when strict
    mismatched = _reply({"security": 1}, ["be honest: +1"])
    A.validate_annotation(mismatched)
    with pytest.raises(ValueError, match="disagrees with the label benevolence: 0"):
        A.validate_annotation(mismatched, strict_items=True)
    A.validate_annotation(_reply({"benevolence": 1}, ["be honest: +1"]), strict_items=True)


def test_lexicon_annotator_marks_dictionary_words():
    labels = A.LexiconAnnotator().annotate(DIALOGUES)
    assert labels["id"].tolist() == ["d1", "d2", "d3"]
    assert set(labels[list(NAMES)].to_numpy().ravel()) <= {0, 1}
    assert labels[list(NAMES)].to_numpy().sum() > 0  # some value words are found
    assert (labels["annotator"] == "lexicon").all()


def test_llm_annotator_retries_quarantines_and_resumes(fake_openai, tmp_path, monkeypatch):
    url, server = fake_openai
    answers = iter([_reply({"conformity": 1, "security": 1}), _reply({"hedonism": 1}), _reply({"benevolence": 1})])
    monkeypatch.setattr(server, "content", staticmethod(lambda body: json.dumps(next(answers))), raising=False)
    cache = tmp_path / "labels.jsonl"
    ann = A.LLMAnnotator(model="judge", base_url=url, cache=cache, max_tries=3, backoff=0.01, timeout=1)
    # d1: a 429, then a 500, then an answer; d2: garbage twice then an answer; d3: three timeouts -> quarantine
    server.script = ["429", "500", "ok", "garbage", "garbage", "ok", "timeout", "timeout", "timeout"]
    out = ann.annotate(DIALOGUES, progress=False)
    assert out["id"].tolist() == ["d1", "d2"]
    assert (out.loc[0, "conformity"], out.loc[1, "hedonism"]) == (1, 1)
    q = [json.loads(line) for line in open(cache.with_suffix(".quarantine.jsonl"))]
    assert [x["id"] for x in q] == ["d3"] and "Timeout" in q[0]["reason"]
    assert "Human" not in server.seen[0]["messages"][0]["content"][:10]
    assert "valuelab annotation guideline" in server.seen[0]["messages"][0]["content"]
    # a second run asks only for d3, and empties the quarantine
    n_seen = len(server.seen)
    out = A.LLMAnnotator(model="judge", base_url=url, cache=cache, backoff=0.01).annotate(DIALOGUES, progress=False)
    assert out["id"].tolist() == ["d1", "d2", "d3"] and out.loc[2, "benevolence"] == 1
    assert len(server.seen) == n_seen + 1
    assert not cache.with_suffix(".quarantine.jsonl").exists()


def test_llm_annotator_cache_survives_a_torn_line(fake_openai, tmp_path, monkeypatch):
    url, server = fake_openai
    monkeypatch.setattr(server, "content", staticmethod(lambda body: json.dumps(_reply({"power": -1}))), raising=False)
    cache = tmp_path / "c.jsonl"
    cache.write_text(json.dumps({"id": "d1", **_reply({"security": 1}), "annotator": "x"}) + "\n{\"id\": \"d2\", \"lab")
    out = A.LLMAnnotator(model="m", base_url=url, cache=cache, backoff=0.01).annotate(DIALOGUES, progress=False)
    assert out.set_index("id").loc["d1", "security"] == 1  # kept from the cache, not asked again
    assert out.set_index("id").loc["d2", "power"] == -1  # the torn line is redone
    assert [m["messages"][1]["content"].split("\n")[0] for m in server.seen] == ["Dialogue id: d2", "Dialogue id: d3"]


def test_llm_annotator_needs_endpoint(monkeypatch):
    monkeypatch.delenv("VALUELAB_ANNOTATOR_BASE_URL", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    with pytest.raises(ValueError, match="VALUELAB_ANNOTATOR_BASE_URL"):
        A.LLMAnnotator()


def test_agreement_statistics():
    a = A.to_frame([{"id": f"d{i}", "labels": {v: (1 if (i + j) % 3 == 0 else 0) for j, v in enumerate(NAMES)}}
                    for i in range(30)])
    b = a.copy()
    b.loc[:4, "security"] = -1
    ag = A.agreement(a, b)
    assert ag.loc["power", "kappa"] == pytest.approx(1.0) and ag.loc["power", "agreement"] == 1
    assert ag.loc["security", "agreement"] == pytest.approx(25 / 30)
    assert ag.loc["security", "kappa"] < 1
    assert A.krippendorff_alpha(a, a) == pytest.approx(1.0)
    assert A.krippendorff_alpha(a, b) < 1
    rates = A.label_rates(a)
    assert rates.loc["self-direction", "aligned (+1)"] == pytest.approx(10 / 30)
    cm = A.confusion(a, b, "security")
    assert cm.loc[1, -1] + cm.loc[0, -1] == 5 and cm.to_numpy().sum() == 30
    with pytest.raises(ValueError, match="no dialogue ids in common"):
        A.agreement(a, b.assign(id="zz"))


def test_cli_annotate_lexicon_and_llm(tmp_path, fake_openai, monkeypatch):
    import subprocess
    import sys

    from tests.conftest import FIXTURES

    out = tmp_path / "lex.jsonl"
    r = subprocess.run([sys.executable, "-m", "valuelab.cli", "annotate", "--in", str(FIXTURES / "fulcra_sample.jsonl"),
                        "--out", str(out), "--annotator", "lexicon"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    assert len(lines) == 3 and set(lines[0]["labels"]) == set(NAMES)
    url, server = fake_openai
    monkeypatch.setattr(server, "content", staticmethod(lambda body: json.dumps(_reply({"security": 1}))),
                        raising=False)
    monkeypatch.setenv("VALUELAB_ANNOTATOR_BASE_URL", url)
    from valuelab.cli import main

    src = tmp_path / "d.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in DIALOGUES.to_dict("records")))
    assert main(["annotate", "--in", str(src), "--out", str(tmp_path / "llm.jsonl"), "--model", "m"]) == 0
    got = [json.loads(x) for x in (tmp_path / "llm.jsonl").read_text().splitlines()]
    assert [g["labels"]["security"] for g in got] == [1, 1, 1] and got[0]["annotator"] == "llm:m"
