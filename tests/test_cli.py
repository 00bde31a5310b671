"""The command line: `nbmodels search` and `nbmodels sql` against the local hub."""

from __future__ import annotations

import os
import subprocess
import sys


def _nbmodels(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "nbmodels", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_search_then_sql_from_the_command_line(hub_server, tmp_path):
    env = {"NBMODELS_HF_ENDPOINT": hub_server.url, "NBMODELS_HOME": str(tmp_path / "home")}
    found = _nbmodels("search", "tiny-llama", "--source", "huggingface", "--limit", "5", env=env)
    assert found.returncode == 0, found.stderr
    assert "nbmodels-demo/tiny-llama-chat" in found.stdout
    # the catalog on disk answers SQL in a new process, without the hub
    env_offline = {**env, "NBMODELS_HF_ENDPOINT": "http://127.0.0.1:9", "NBMODELS_OFFLINE": "1"}
    counted = _nbmodels(
        "sql", "SELECT count(*) AS n FROM models WHERE id LIKE '%tiny%'", env=env_offline
    )
    assert counted.returncode == 0, counted.stderr
    assert int(counted.stdout.split()[-1]) >= 1


def test_cli_errors_are_one_line_messages(tmp_path):
    env = {"NBMODELS_HOME": str(tmp_path / "home")}
    refused = _nbmodels("sql", "DROP TABLE models", env=env)
    assert refused.returncode == 2
    assert refused.stderr.startswith("nbmodels: ") and "Traceback" not in refused.stderr
    unknown = _nbmodels("search", "x", "--source", "hugginface", env=env)
    assert unknown.returncode == 2 and "Did you mean 'huggingface'" in unknown.stderr


def test_source_warnings_read_as_messages(tmp_path):
    env = {
        "NBMODELS_HOME": str(tmp_path / "home"),
        "NBMODELS_HF_ENDPOINT": "http://127.0.0.1:9",
        "HF_HUB_CACHE": str(tmp_path / "empty-cache"),
    }
    out = _nbmodels("search", "llama", env=env)
    assert out.returncode == 0
    assert "nbmodels: SourceWarning: huggingface did not answer" in out.stderr
    assert "no models found" in out.stdout


def test_download_and_verify_from_the_command_line(hub_server, tmp_path):
    env = {
        "NBMODELS_HF_ENDPOINT": hub_server.url,
        "NBMODELS_HOME": str(tmp_path / "home"),
        "HF_HUB_CACHE": str(tmp_path / "hf"),
    }
    model = "nbmodels-demo/tiny-llama-chat"
    plan = _nbmodels("download", model, "--dry-run", env=env)
    assert plan.returncode == 0, plan.stderr
    assert "model.safetensors" in plan.stdout and "to fetch" in plan.stdout
    assert not (tmp_path / "hf").exists()
    got = _nbmodels("download", model, "--include", "*.json", env=env)
    assert got.returncode == 0, got.stderr
    snapshot = got.stdout.strip().splitlines()[-1]
    assert os.path.isfile(os.path.join(snapshot, "config.json"))
    assert "100%" in got.stderr  # the bar
    checked = _nbmodels("verify", model, env=env)
    assert checked.returncode == 1 and "missing  model.safetensors" in checked.stdout
    _nbmodels("download", model, env=env)
    assert _nbmodels("verify", model, env=env).returncode == 0
    missing = _nbmodels("download", "nobody/nothing", env=env)
    assert missing.returncode == 2 and missing.stderr.startswith("nbmodels: ")
