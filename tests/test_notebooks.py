"""Execute every notebook with papermill in the smoke profile and check what it recorded."""
import json

import pytest

from valuelab.workbook import notebooks, profile_parameters, run_notebook


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    return tmp_path_factory.mktemp("smoke")


def _run(name, out):
    run_notebook(name, profile="smoke", out=out, html=True)
    assert (out / f"{name}.html").stat().st_size > 10_000
    return json.loads((out / f"{name}.metrics.json").read_text())


def test_every_notebook_has_a_test():
    tested = {"00_basic_values", "01_build_dataset", "02_train_judge", "03_value_space", "04_basealign",
              "05_cultural_alignment"}
    assert set(notebooks()) <= tested, "add a smoke test for the new notebook"


def test_00_basic_values(smoke):
    m = _run("00_basic_values", smoke)
    assert (m["n_values"], m["n_refined"], m["n_items"]) == (10, 19, 54)
    assert m["n_targets"] == 5 + 4 + 10
    assert m["distance_empty_ideal"] == 0
    assert m["distance_uk_ideal"] == pytest.approx(0.5638 + 0.3480 + 0.4094, abs=1e-4)  # SE, BE, UN
    assert m["builder_distance_to_start"] == 0
    assert m["ess_france_max_abs"] == 1


def test_profiles_reject_unknown():
    with pytest.raises(ValueError, match="unknown profile"):
        profile_parameters("turbo", "00_basic_values")
    assert profile_parameters("smoke", "00_basic_values")["profile"] == "smoke"


def test_01_build_dataset(smoke):
    m = _run("01_build_dataset", smoke)
    assert m["n_prompts"] >= 5000 and m["n_live"] == 3
    assert m["n_dataset"] > 0 and set(m["splits"]) <= {"train", "validation", "test", "heldout"}
    assert m["n_dialogues"] >= m["n_dataset"]
    assert m["lexicon_mean_kappa"] < 0.5  # the dictionary baseline is a weak annotator
    assert m["review_saved"] == 0


def test_02_train_judge(smoke):
    m = _run("02_train_judge", smoke)
    assert m["n_train"] > 0 and m["n_test"] > 0
    assert m["final_loss"] < m["first_loss"]  # training moved the loss
    assert 0 <= m["test_macro_f1"] <= 1 and set(m["baseline_macro_f1"]) == {"all-zero", "lexicon", "embedding LR"}
    assert set(m["variants_macro_f1"]) == {"vector · tanh", "vector · 3-way", "pairwise · tanh"}
    assert m["fulcra_macro_f1"] is None or 0 <= m["fulcra_macro_f1"] <= 1
    d = m["double_annotated"]  # the second annotator agrees with the first far better than chance
    assert d["n"] > 0 and d["second annotator"] > d["judge"] and d["second annotator"] > 0.45


def test_03_value_space(smoke):
    m = _run("03_value_space", smoke)
    assert 0 < m["n_map"] <= 400
    assert m["AUROC 10-D (by construction)"] > 0.95
    assert m["AUROC 2-D"] > 0.65  # the 2-D map keeps safe and unsafe apart (as FULCRA's figure)
    assert 0 <= m["AUROC other 6 values"] <= 1
    assert 0 < m["trustworthiness"] <= 1 and m["purity"]
    assert m["exports"]["html"]
    assert m["judge_map"]["n"] == 400 and 0 <= m["judge_map"]["AUROC 2-D (judge map)"] <= 1  # test split has > 400


def test_04_basealign(smoke):
    m = _run("04_basealign", smoke)
    assert m["target"] == "ideal" and m["rl_steps"] == 2
    assert {"base", "best-of-N", "MAP reweighting", "BaseAlign", "RLHF", "RLHF-5x"} <= set(m["methods"])
    lo_hi = m["basealign_change"]
    assert len(lo_hi) == 3 and lo_hi[1] <= lo_hi[0] <= lo_hi[2]  # mean inside its bootstrap interval
    assert all(d >= 0 for d in m["distance"].values())


def test_05_cultural_alignment(smoke):
    m = _run("05_cultural_alignment", smoke)
    assert m["countries"] == ["ess-france", "ess-sweden"] and m["rl_steps"] == 1 and m["away_weight"] > 0
    assert set(m["own_change"]) == set(m["other_change"]) == {"ess-france", "ess-sweden"}
    assert m["margin_base"][0] == pytest.approx(-m["margin_base"][1])  # base: d(fr) - d(se) = -(d(se) - d(fr))
    for (mean, lo, hi), base, aligned in zip(m["margin_change"], m["margin_base"], m["margin_aligned"]):
        assert lo <= mean <= hi and mean == pytest.approx(aligned - base)  # paired by prompt: same means
