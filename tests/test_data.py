import json

import pytest

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
