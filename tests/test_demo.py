"""The offline demo: ensure_hub() and the `nbmodels demo --headless` main job."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import nbmodels
from nbmodels import demo
from nbmodels.discover import catalog
from nbmodels.settings import default_settings, use_settings

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def restore_kernel_state():
    """ensure_hub() chooses this process's default settings: undo that after the test."""
    import huggingface_hub.constants as hfc

    def pointing() -> dict[str, str]:
        names = ("HF_ENDPOINT", "NBMODELS_HF_ENDPOINT", "OLLAMA_HOST", "NBMODELS_HOME", "HF_HOME")
        return {k: os.environ.get(k, "") for k in (*names, "HF_HUB_CACHE")}

    environ, endpoint = pointing(), hfc.ENDPOINT
    yield
    use_settings(None)
    catalog.set_default_catalog(None)
    # the endpoint travels as Settings: nothing global was rewritten
    assert pointing() == environ
    assert hfc.ENDPOINT == endpoint  # noqa: SIM300


@pytest.mark.slow
def test_ensure_hub_starts_the_embedded_demo_and_points_search_at_it(
    monkeypatch, restore_kernel_state
):
    monkeypatch.setenv("NBMODELS_DEMO", "1")
    env = demo.ensure_hub()
    try:
        assert env.is_demo and env.hub_url.startswith("http://127.0.0.1:")
        assert "embedded demo hub" in repr(env)
        assert default_settings() is env.settings and env.settings.hf_endpoint == env.hub_url
        assert demo.ensure_hub() is env  # one set of servers per process
        df = nbmodels.search("tiny-llama", source="huggingface", limit=5)
        assert "nbmodels-demo/tiny-llama-chat" in set(df["id"])
        assert nbmodels.get_source("ollama").is_running()
        # the catalog and the HF cache live apart from real ones
        home = Path(os.environ["NBMODELS_HOME"])
        assert catalog.default_catalog().path == home / "demo" / "catalog"
        assert env.settings.hf_cache == home / "demo" / "hf-cache"
    finally:
        env.close()
    assert not demo.hub_reachable(env.hub_url, timeout=1)


def test_explicit_endpoint_is_used_as_is(monkeypatch, restore_kernel_state):
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")
    env = demo.ensure_hub()
    assert env.hub_url == "http://127.0.0.1:9" and not env.is_demo
    assert "Hugging Face Hub at http://127.0.0.1:9" in repr(env)


@pytest.mark.slow
def test_cli_demo_headless_runs_the_discovery_notebook(tmp_path):
    env = {**os.environ, "NBMODELS_HOME": str(tmp_path / "home")}
    for var in ("HF_ENDPOINT", "OLLAMA_HOST"):
        env.pop(var, None)
    proc = subprocess.run(
        [sys.executable, "-m", "nbmodels", "demo", "--headless", "--offline"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "01-discover.ipynb" in proc.stdout and "without error" in proc.stdout


def test_cli_demo_fails_cleanly_on_a_missing_notebook(tmp_path):
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "nbmodels",
            "demo",
            "--headless",
            "--offline",
            "--notebook",
            "nope.ipynb",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode != 0 and "not found" in proc.stderr


@pytest.mark.slow
def test_the_demo_lab_opens_the_notebook_with_the_news_off(tmp_path):
    import json
    import time
    import urllib.request

    from nbmodels.cli import lab_command

    notebook = REPO / "notebooks" / "01-discover.ipynb"
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(tmp_path / "cfg")}
    env["JUPYTER_RUNTIME_DIR"] = str(tmp_path / "runtime")
    cmd, url = lab_command(notebook, tmp_path, env, no_browser=True)
    assert "/lab/tree/notebooks/01-discover.ipynb?token=" in url
    proc = subprocess.Popen(
        cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    try:
        base, _, token = url.partition("/lab/tree/")
        token = token.split("token=")[1]
        deadline, page = time.monotonic() + 90, None
        while time.monotonic() < deadline and page is None:
            try:
                with urllib.request.urlopen(url, timeout=5) as answer:
                    page = answer.read().decode()
            except OSError:
                time.sleep(0.5)
        assert page is not None, "JupyterLab did not answer the printed URL"
        assert '"treePath": "notebooks/01-discover.ipynb"' in page or "01-discover" in page
        settings_url = f"{base}/lab/api/settings/@jupyterlab/apputils-extension:notification"
        request = urllib.request.Request(settings_url, headers={"Authorization": f"token {token}"})
        with urllib.request.urlopen(request, timeout=10) as answer:
            notification = json.loads(answer.read())["settings"]
        assert notification["fetchNews"] == "false" and notification["checkForUpdates"] is False
    finally:
        os.killpg(proc.pid, 15)
        proc.wait(timeout=30)
