"""`valuelab align` and `valuelab evaluate` end to end, tiny sizes."""
import json

import pytest

from valuelab.cli import main
from valuelab.judge import Judge, JudgeConfig, JudgeModel
from valuelab.models import load_encoder


@pytest.fixture(scope="module")
def judge_dir(tmp_path_factory):
    encoder, tokenizer = load_encoder()
    path = tmp_path_factory.mktemp("judge")
    Judge(JudgeConfig(max_length=64, prompt_tokens=16), JudgeModel(encoder, 10), tokenizer).save(path)
    return path


def test_align_grpo_then_evaluate(judge_dir, tmp_path):
    run = tmp_path / "run"
    common = ["--judge", str(judge_dir), "--limit", "4", "--max-new-tokens", "6"]
    assert main(["align", "--target", "0,0,0,0,0,1,0,1,0,0", "--method", "grpo", "--out", str(run),
                 "--steps", "1", "--n", "2", "--away", "power", *common]) == 0
    assert (run / "adapter" / "adapter_config.json").exists()
    config = json.loads((run / "config.json").read_text())  # the notebooks' settings are the CLI's defaults
    assert (config["learning_rate"], config["beta"], config["prompts_per_step"]) == (2e-3, 0.1, 16)
    out = tmp_path / "scored.jsonl"
    assert main(["evaluate", "--policy", str(run), "--prompts", "test", "--judge", str(judge_dir),
                 "--limit", "3", "--target", "security-conformity", "--out", str(out)]) == 0
    rows = [json.loads(x) for x in out.read_text().splitlines()]
    assert sorted({r["policy"] for r in rows}) == ["base", "policy"] and len(rows) == 6


def test_align_best_of_n_writes_choices(judge_dir, tmp_path):
    assert main(["align", "--method", "best-of-n", "--out", str(tmp_path), "--n", "2", "--prompts", "test",
                 "--judge", str(judge_dir), "--limit", "3", "--max-new-tokens", "6"]) == 0
    rows = [json.loads(x) for x in (tmp_path / "best_of_n.jsonl").read_text().splitlines()]
    assert len(rows) == 3 and len({r["prompt_id"] for r in rows}) == 3


def test_align_bad_target_is_one_line(tmp_path, capsys):
    assert main(["align", "--target", "utopia", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("valuelab align: error:") and "utopia" in err and "\n" not in err


def test_align_through_trl_saves_an_adapter(judge_dir, tmp_path):
    assert main(["align", "--engine", "trl", "--out", str(tmp_path), "--steps", "1", "--n", "2", "--limit", "2",
                 "--judge", str(judge_dir), "--max-new-tokens", "6"]) == 0
    assert (tmp_path / "adapter" / "adapter_config.json").exists()
