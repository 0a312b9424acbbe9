"""data/annotations/batches.py: hand out unlabelled dialogues under opaque ids, check returns."""
import json
import runpy
import sys

import pytest

from valuelab.data import ROOT, read_jsonl

SCRIPT = ROOT / "data" / "annotations" / "batches.py"


def _run(*args):
    sys.argv = ["batches.py", *map(str, args)]
    with pytest.raises(SystemExit) as e:
        runpy.run_path(str(SCRIPT), run_name="__main__")
    return e.value.code


def test_make_hands_out_unlabelled_dialogues_under_opaque_ids(tmp_path, monkeypatch, capsys):
    import valuelab.data as D
    from valuelab.values import NAMES

    # an annotation folder where the first 50 dialogues are labelled (the shipped one is complete)
    labelled = D.load_dialogues()["id"].head(50).tolist()
    folder = tmp_path / "annotations"
    D.write_jsonl_atomic(folder / "primary" / "b0001.jsonl",
                         [{"id": i, "labels": dict.fromkeys(NAMES, 0), "items": []} for i in labelled])
    monkeypatch.setattr(D, "ANNOTATIONS", folder)
    out = tmp_path / "batches"
    assert _run("make", "--out", out, "--n", 1) == 0
    batch = next(out.glob("b*.jsonl"))
    assert batch.stem == "b0002"  # numbering continues after the annotation folder's batches
    rows = read_jsonl(batch)
    ids = json.loads(batch.with_suffix(".ids.json").read_text())
    assert len(rows) == 100 and all(r["id"].startswith(batch.stem + "-") for r in rows)
    assert set(ids) == {r["id"] for r in rows}
    assert not set(ids.values()) & set(labelled)  # none is labelled already
    assert all("/" not in r["id"] for r in rows)  # the run (persona, temperature) does not show
    # a second call hands out other dialogues
    _run("make", "--out", out, "--n", 1)
    second = sorted(out.glob("b*.ids.json"))[-1]
    assert second != batch.with_suffix(".ids.json")
    assert not set(json.loads(second.read_text()).values()) & set(ids.values())
    # --second hands out labelled dialogues only
    _run("make", "--out", out, "--n", 1, "--second", "--partial")  # only 50 are labelled: a short batch
    assert set(json.loads(next(out.glob("s*.ids.json")).read_text()).values()) <= set(labelled)
    capsys.readouterr()


def test_check_reports_every_problem(tmp_path, capsys):
    batch = tmp_path / "b9999.jsonl"
    batch.write_text("".join(json.dumps({"id": f"b9999-{i:03d}", "prompt": "p", "response": "r"}) + "\n"
                             for i in range(3)))
    zero = dict.fromkeys(["self-direction", "stimulation", "hedonism", "achievement", "power", "security",
                          "tradition", "conformity", "benevolence", "universalism"], 0)
    good = [{"id": f"b9999-{i:03d}", "labels": zero, "items": []} for i in range(3)]
    labels = tmp_path / "labels.jsonl"
    labels.write_text("".join(json.dumps(g) + "\n" for g in good))
    assert _run("check", batch, labels) == 0
    bad = good[:1] + [{**good[1], "labels": {**zero, "power": 5}}, {**good[0]}]
    labels.write_text("".join(json.dumps(g) + "\n" for g in bad))
    assert _run("check", batch, labels) == 1
    out = capsys.readouterr().out
    assert "must be -1, 0 or 1" in out and "labelled twice" in out and "not labelled" in out
