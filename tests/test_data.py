import json

import pandas as pd
import pytest

from tests.conftest import FIXTURES
from valuelab import data as D
from valuelab.values import NAMES


@pytest.fixture(scope="module")
def prompts():
    return D.load_prompts()


def test_prompt_bank_coverage(prompts):
    assert len(prompts) >= 5000 and prompts["id"].is_unique
    assert not prompts["text"].str.lower().str.split().str.join(" ").duplicated().any()
    cats = prompts.explode("harm_categories")["harm_categories"].value_counts()
    assert all(cats.get(c, 0) >= 150 for c in D.HARM_CATEGORIES)
    assert (prompts["kind"] == "benign").sum() >= 1000
    fam = prompts["family"].value_counts()
    assert all(fam[v] >= 150 for v in NAMES)  # value-laden prompts per value
    held = prompts[prompts["heldout"]]
    assert len(held) >= 100 and set(held["family"]) == {D.HELDOUT_FAMILY}
    assert held["harm_categories"].str.len().eq(0).all()  # a novel risk: no existing category
    assert set(prompts["stance"]) == set(D.STANCES)
    assert len(D.load_prompts(include_heldout=False)) == len(prompts) - len(held)


def _write(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


GOOD = {"id": "x1", "text": "How do I bake bread?", "kind": "benign", "family": "benign",
        "harm_categories": [], "values": ["achievement"], "stance": "direct"}


@pytest.mark.parametrize("change, message", [
    ({"kind": "nice"}, "kind not one of"),
    ({"harm_categories": ["piracy"]}, "unknown harm category 'piracy'"),
    ({"values": ["kindness"]}, "values must be"),
    ({"stance": "sideways"}, "stance not one of"),
])
def test_bad_prompts_rejected(tmp_path, change, message):
    with pytest.raises(ValueError, match=message):
        D.load_prompts(_write(tmp_path / "p.jsonl", [{**GOOD, **change}]))


def test_duplicate_ids_and_bad_json(tmp_path):
    with pytest.raises(ValueError, match="duplicate prompt id 'x1'"):
        D.load_prompts(_write(tmp_path / "p.jsonl", [GOOD, GOOD]))
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps(GOOD) + "\n{oops\n")
    with pytest.raises(ValueError, match=r"bad.jsonl:2: not valid JSON"):
        D.read_jsonl(bad)
    with pytest.raises(FileNotFoundError, match="no prompt files"):
        D.load_prompts(tmp_path / "empty_dir_that_is_missing")


def test_atomic_write_leaves_no_partial_file(tmp_path, monkeypatch):
    target = tmp_path / "out.jsonl"
    D.write_jsonl_atomic(target, [{"a": 1}])

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(D.os, "replace", boom)
    with pytest.raises(OSError):
        D.write_jsonl_atomic(target, [{"a": 2}])
    assert D.read_jsonl(target) == [{"a": 1}]
    assert [p.name for p in tmp_path.iterdir()] == ["out.jsonl"]


def test_load_dialogues(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    _write(run / "shard-00000.jsonl", [{"id": "a", "prompt": "p", "response": "r"}])
    _write(run / "shard-00001.jsonl", [{"id": "b", "prompt": "p", "response": "r"}])
    assert D.load_dialogues(tmp_path)["id"].tolist() == ["a", "b"]
    _write(run / "shard-00002.jsonl", [{"id": "a", "prompt": "p", "response": "r"}])
    with pytest.raises(ValueError, match="duplicate dialogue id 'a'"):
        D.load_dialogues(tmp_path)


def test_fulcra_read_repairs_and_round_trips(tmp_path):
    from valuelab.values import LabelReport

    report = LabelReport()
    df = D.read_fulcra(FIXTURES / "fulcra_sample.jsonl", report)
    assert df.loc[0, "prompt"].startswith("How do I pick a lock") and df.loc[0, "response"].startswith("I can't")
    assert (df.loc[0, "conformity"], df.loc[0, "security"], df.loc[0, "power"]) == (1, 1, 0)
    assert (df.loc[1, "hedonism"], df.loc[1, "conformity"]) == (1, -1)  # "=1" -> +1; humility -> conformity
    assert report.counts["unsigned"] == 1 and report.rejected == ["mystery"]
    out = tmp_path / "export.jsonl"
    D.write_fulcra(df, out)
    back = D.read_fulcra(out)
    assert back[list(NAMES) + ["prompt", "response"]].equals(df[list(NAMES) + ["prompt", "response"]])
    assert D.read_jsonl(out)[0]["value_types"] == ["security: +1", "conformity: +1", "benevolence: +1"]
    with pytest.raises(ValueError, match="not a FULCRA dialogue"):
        D.parse_dialogue("User: hi\nAssistant: hello")


def test_fulcra_from_url(tmp_path):
    import functools
    import http.server
    import threading

    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(FIXTURES))
    handler.log_message = lambda *a: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/fulcra_sample.jsonl"
        df = D.load_external(url)
        assert len(df) == 3 and df["text"].iloc[1] == "Tell me a fun weekend plan."
    finally:
        server.shutdown()


def test_external_sources_from_local_files():
    bt = D.load_external("beavertails", data_files=[FIXTURES / "beavertails.jsonl"])
    assert len(bt) == 2  # the repeated prompt is kept once
    assert bt.loc[1, "harm_categories"] == ["non-violent unethical behavior", "privacy violation"]
    pku = D.load_external("pku-saferlhf", data_files=[FIXTURES / "pku_saferlhf.jsonl"])
    assert pku["kind"].iloc[0] == "harmful" and pd.isna(pku["kind"].iloc[1])
    assert pku.loc[0, "harm_categories"] == ["drug abuse, weapons, banned substance"]
    hh = D.load_external("hh-rlhf", data_files=[FIXTURES / "hh_rlhf.jsonl"], limit=1)
    assert hh["text"].tolist() == ["What's a good name for a goldfish?"]


def test_external_offline_fails_with_one_line(monkeypatch):
    from valuelab.models import OfflineError

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(OfflineError, match="pass data_files"):
        D.load_external("hh-rlhf")
