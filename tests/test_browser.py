"""Linked exploration in a real browser: JupyterLab on localhost, notebook 03 run in headless
Chromium (Debian's package) driven by Playwright; a lasso on the map must fill the table.

`make test` installs Chromium when it runs in CI (CI=true, root); elsewhere this test runs where
/usr/bin/chromium exists and is skipped with a reason where it does not.
"""
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from valuelab.workbook import NOTEBOOKS, profile_parameters

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
pytestmark = pytest.mark.skipif(not os.path.exists(CHROMIUM),
                                reason="Debian's chromium is not installed (make test installs it in CI)")
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def lab(tmp_path):
    import papermill as pm

    params = {**profile_parameters("smoke", "03_value_space"), "export_dir": str(tmp_path / "figures")}
    pm.execute_notebook(str(NOTEBOOKS / "03_value_space.ipynb"), str(tmp_path / "map.ipynb"),
                        parameters=params, prepare_only=True, kernel_name="python3")
    # JupyterLab 4 renders only the cells near the viewport; render them all so outputs are in the page
    settings = tmp_path / "lab-settings" / "@jupyterlab" / "notebook-extension"
    settings.mkdir(parents=True)
    (settings / "tracker.jupyterlab-settings").write_text('{"windowingMode": "none"}')
    port, token = _free_port(), secrets.token_hex(12)
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--allow-root", f"--port={port}",
         "--ServerApp.ip=127.0.0.1", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={tmp_path}",
         f"--LabApp.user_settings_dir={tmp_path / 'lab-settings'}"],
        cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    for _ in range(120):
        try:
            urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=2)
            break
        except OSError:
            time.sleep(0.5)
    else:
        proc.kill()
        pytest.fail("JupyterLab did not start on localhost")
    yield f"{url}/lab/tree/map.ipynb?token={token}"
    proc.terminate()
    proc.wait(timeout=30)


def test_lasso_on_the_map_fills_the_table(lab):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_page(viewport={"width": 1500, "height": 1100})
        page.goto(lab)
        page.wait_for_selector(".jp-Notebook", timeout=120_000)
        page.get_by_text("Python 3 (ipykernel) | Idle").wait_for(timeout=120_000)
        page.keyboard.press("Control+Shift+c")  # command palette
        page.keyboard.type("Run All Cells")
        page.keyboard.press("Enter")
        hint = page.get_by_text("Select points on the map with the lasso or box tool.")
        try:
            hint.wait_for(timeout=300_000)
        except Exception:  # say where the run stopped: the kernel's status and any error output
            errors = page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")
            status = page.get_by_text(re.compile(r"Python 3 \(ipykernel\) \| \w+")).all_inner_texts()
            pytest.fail(f"the explorer never appeared; kernel status {status}; last error output: "
                        f"{errors.all_inner_texts()[-1:] or 'none'}"[:3000])
        explorer = hint.locator("xpath=ancestor::div[contains(@class, 'widget-vbox')][last()]")
        plot = explorer.locator(".js-plotly-plot").first
        plot.scroll_into_view_if_needed()
        box = plot.locator(".nsewdrag").first.bounding_box()
        cx, cy, w, h = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2, box["width"], box["height"]
        page.mouse.move(cx - 0.45 * w, cy - 0.45 * h)  # a lasso round almost the whole plot area
        page.mouse.down()
        for fx, fy in [(0.45, -0.45), (0.45, 0.45), (-0.45, 0.45), (-0.45, -0.44)]:
            page.mouse.move(cx + fx * w, cy + fy * h, steps=8)
        page.mouse.up()
        # the hint is replaced by the count once the selection reaches the kernel and comes back
        selected = page.get_by_text(re.compile(r"^\d+ dialogues selected$"))
        selected.wait_for(timeout=60_000)
        assert int(selected.inner_text().split()[0]) > 0
        table = page.locator("table.selection")
        table.wait_for(timeout=30_000)
        assert table.locator("tr").count() > 1
        page.screenshot(path=os.environ.get("VALUELAB_SCREENSHOT", "/tmp/valuelab-map-selection.png"))
        browser.close()
