"""Run the workbook's notebooks with papermill under a parameter profile.

    $ valuelab workbook --profile classroom --out runs/workbook      # what `make workbook` does
    >>> from valuelab.workbook import run_notebook, record
    >>> run_notebook("00_basic_values", profile="smoke", out="runs/smoke")

Profiles live in one file, ``notebooks/profiles.toml``: ``[PROFILE.NOTEBOOK]`` tables of
parameters (``smoke`` for CI, ``classroom`` for a class on a laptop). A notebook ends with
``record({...})``: its headline numbers, written as JSON beside the executed notebook so tests
and readers can check them.
"""
from __future__ import annotations

import json
import os
import tomllib
from pathlib import Path

from valuelab.data import ROOT, write_atomic

NOTEBOOKS = ROOT / "notebooks"
PROFILES = NOTEBOOKS / "profiles.toml"


def notebooks() -> list[str]:
    """The workbook's notebooks, in order (names without ``.ipynb``)."""
    return sorted(p.stem for p in NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))


def profile_parameters(profile: str, notebook: str) -> dict:
    """Parameters a profile sets for one notebook (unknown profile -> one clear error)."""
    profiles = tomllib.loads(PROFILES.read_text())
    if profile not in profiles:
        raise ValueError(f"unknown profile {profile!r}; profiles: {', '.join(profiles)}")
    return {"profile": profile, **profiles[profile].get(notebook, {})}


def run_notebook(name: str, profile: str = "classroom", out="runs/workbook", html: bool = True,
                 **parameters) -> Path:
    """Execute one notebook into ``out`` (plus ``.html`` and ``.metrics.json``); return its path."""
    import papermill as pm

    out = Path(out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    executed = out / f"{name}.ipynb"
    metrics = out / f"{name}.metrics.json"
    metrics.unlink(missing_ok=True)
    params = {**profile_parameters(profile, name), **parameters, "record_path": str(metrics)}
    os.environ.setdefault("VALUELAB_HEADLESS", "1")  # static plotly renderer when run headless
    # a per-cell limit, so that a lost kernel message fails a run instead of hanging it forever
    timeout = {"smoke": 600, "classroom": 1800}.get(profile)
    pm.execute_notebook(str(NOTEBOOKS / f"{name}.ipynb"), str(executed), parameters=params,
                        cwd=str(NOTEBOOKS), kernel_name="python3", progress_bar=False,
                        execution_timeout=timeout)
    if html:
        from nbconvert import HTMLExporter

        body, _ = HTMLExporter().from_filename(str(executed))
        write_atomic(out / f"{name}.html", body)
    return executed


def run_all(profile: str = "classroom", out="runs/workbook", only: list[str] | None = None):
    for name in only or notebooks():
        print(f"running {name} ({profile})", flush=True)
        run_notebook(name, profile, out)


def setup(renderer: str | None = None):
    """The notebooks' one setup call: plotly renderer (static when headless) and display width."""
    import plotly.io as pio

    headless = os.environ.get("VALUELAB_HEADLESS") == "1" or os.environ.get("CI")
    pio.renderers.default = renderer or ("notebook" if headless else "plotly_mimetype+notebook")
    import pandas as pd

    pd.set_option("display.max_colwidth", 120)


def record(metrics: dict, path: str | None = None) -> dict:
    """Store a notebook's headline numbers (JSON) at ``path`` when given; return them for display."""
    if path:
        write_atomic(path, json.dumps(metrics, indent=1, default=float))
    return metrics
