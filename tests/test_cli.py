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


def _json_runner(env: dict[str, str]):
    """``run(*args, code=0, **more_env)``: the command's --json answer, its exit code checked."""
    import json

    def run(*args: str, code: int = 0, **extra: str) -> dict:
        done = _nbmodels(*args, env={**env, **extra})
        assert done.returncode == code, (args, done.stdout[-2000:], done.stderr[-2000:])
        return json.loads(done.stdout)

    return run


def _hub_env(hub_server, tmp_path) -> dict[str, str]:
    """The local hub as the Hub; the nbmodels home and HF cache in the test's temp dir."""
    return {
        "NBMODELS_HF_ENDPOINT": hub_server.url,
        "NBMODELS_HOME": str(tmp_path / "home"),
        "HF_HUB_CACHE": str(tmp_path / "hf"),
    }


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
    env = _hub_env(hub_server, tmp_path)
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


def test_every_command_answers_json_with_exit_codes_a_script_can_use(hub_server, tmp_path):
    import json

    env = _hub_env(hub_server, tmp_path)
    model = "nbmodels-demo/tiny-llama-chat"

    def run(*args: str, code: int = 0, **extra: str) -> object:
        done = _nbmodels(*args, env={**env, **extra})
        assert done.returncode == code, (args, done.stdout, done.stderr)
        return json.loads(done.stdout) if "--json" in args else done.stdout

    info = run("info", model, "--json")
    assert info["id"] == model and info["source"] == "huggingface"
    conf = run(
        "configure", model, "--set", "temperature=0.2", "--set", "max_tokens=8", "--save", "--json"
    )
    assert conf["configuration"]["temperature"] == 0.2 and conf["saved"].endswith(".yaml")
    fits = run("fit", model, "--json")
    assert fits["verdict"] in ("fits in RAM", "fits on GPU") and fits["peak_bytes"] > 0
    huge = run("fit", model, "--context", "10000000", "--batch", "64", "--json", code=3)
    assert huge["verdict"] == "won't fit" and huge["advice"]
    locked = run("lock", model, "-o", str(tmp_path / "nbmodels.lock.yaml"), "--json")
    assert locked["models"][0]["commit"] and len(locked["models"][0]["files"]) >= 3
    listed = run("list", "--json")
    assert model in [row["id"] for row in listed]
    assert model in [
        row["model_id"] for row in run("registry", "list", "--json")
    ]  # registered by the download
    stats = run("registry", "stats", "--json")
    assert stats
    # a fresh cache: sync fetches exactly the pinned files
    synced = run(
        "sync", str(tmp_path / "nbmodels.lock.yaml"), "--json", HF_HUB_CACHE=str(tmp_path / "hf2")
    )
    assert synced["models"] == {model: "fetched"}
    assert run("verify", model, "--json", HF_HUB_CACHE=str(tmp_path / "hf2"))["bad"] == []
    # an error is one line on stderr and exit 2
    gone = _nbmodels("sync", str(tmp_path / "nope.yaml"), env=env)
    assert gone.returncode == 2 and gone.stderr.startswith("nbmodels: No lockfile")


def test_chat_streams_an_answer_in_the_terminal(hub_server, tmp_path):
    env = _hub_env(hub_server, tmp_path)
    done = _nbmodels("chat", "nbmodels-demo/tiny-llama-chat", "-m", "hello", "--max-tokens", "6", "--temperature", "0", env=env)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "6 tokens" in done.stderr and "tok/s" in done.stderr
    # what it printed is the model's greedy answer, as the Python API gives it
    import nbmodels
    from nbmodels import Settings

    settings = Settings(
        home=tmp_path / "home", hf_endpoint=hub_server.url, hf_cache=tmp_path / "hf"
    )
    expected = nbmodels.load("nbmodels-demo/tiny-llama-chat", settings=settings).chat("hello", max_tokens=6, temperature=0).text  # fmt: skip
    assert done.stdout == expected + "\n"


def test_bench_and_compare_from_the_command_line(hub_server, tmp_path):
    """A benchmark card stored in the registry, and two candidates side by side, each with
    --json, on the demo chat model."""

    env = _hub_env(hub_server, tmp_path)
    model = "nbmodels-demo/tiny-llama-chat"

    run = _json_runner(env)
    assert _nbmodels("download", model, env=env).returncode == 0
    card = run("bench", model, "--repeats", "2", "--prompt-tokens", "16", "--generate-tokens", "4",
               "--perplexity-tokens", "64", "--json")  # fmt: skip
    assert card["complete"] and card["repeats"] == 2 and card["decode_tokens_per_s"] > 0
    assert card["perplexity"] > 1 and card["number"] == 1  # stored: the registry's first card
    compared = run("compare", model, f"{model}@dtype=bfloat16", "--prompt", "Hello",
                   "--max-new-tokens", "4", "--repeats", "2", "--perplexity-tokens", "32",
                   "--no-save", "--json")  # fmt: skip
    assert [c["label"] for c in compared["candidates"]] == [
        model,
        f"{model} · bf16",
    ]
    assert all(
        c["status"] == "done" and c["card"]["decode_tokens_per_s"] > 0
        for c in compared["candidates"]
    )
    bad = _nbmodels("compare", f"{model}@quantization", env=env)
    assert bad.returncode == 2 and "MODEL@key=value" in bad.stderr


def test_export_pack_unpack_from_the_command_line(hub_server, tmp_path):
    """A vLLM export, and a pack that unpacks into a fresh home with the network off, every
    file checked; a tampered pack is refused in one line."""

    env = _hub_env(hub_server, tmp_path)
    model = "nbmodels-demo/tiny-llama-chat"

    run = _json_runner(env)
    assert _nbmodels("download", model, env=env).returncode == 0
    exported = run("export", model, "vllm", str(tmp_path / "serve"), "--json")
    assert exported["command"][:3] == ["vllm", "serve", model] and exported["files"]
    packed = run("pack", model, "-o", str(tmp_path / "models.nbpack"), "--json")
    assert len(packed["models"]) == 1 and packed["files"] >= 3
    fresh = {"NBMODELS_HOME": str(tmp_path / "home2"), "HF_HUB_CACHE": str(tmp_path / "hf2"),
             "NBMODELS_HF_ENDPOINT": "http://127.0.0.1:9", "HF_HUB_OFFLINE": "1"}  # fmt: skip
    unpacked = run("unpack", str(tmp_path / "models.nbpack"), "--json", **fresh)
    assert unpacked["files_checked"] == packed["files"] and unpacked["bytes_written"] > 0
    tampered = tmp_path / "bad.nbpack"
    data = bytearray((tmp_path / "models.nbpack").read_bytes())
    data[len(data) // 2] ^= 0xFF
    tampered.write_bytes(bytes(data))
    bad = _nbmodels("unpack", str(tampered), env={**env, **fresh, "NBMODELS_HOME": str(tmp_path / "home3")})  # fmt: skip
    assert (
        bad.returncode == 2 and bad.stderr.startswith("nbmodels: ") and bad.stderr.count("\n") == 1
    )
