"""Downloads against a real local hub that fails on purpose (``HubServer.add_fault``).

Every fault case ends in one of two states, and the tests check which from the disk itself:
the blob is there and hashes to its published sha256 (the download recovered), or the
download failed with a clear error and nothing corrupt is left (no blob, no snapshot link).
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from nbmodels import Settings
from nbmodels.demo.hub import HubServer
from nbmodels.downloader.core import (
    LOCK_SUFFIX,
    PARTIAL_SUFFIX,
    Downloader,
    DownloadPlan,
    DownloadTask,
    repo_folder,
    safe_relative_path,
)
from nbmodels.errors import (
    AccessDeniedError,
    ChecksumMismatchError,
    ConfigurationError,
    DownloadCancelledError,
    DownloadError,
    InsufficientSpaceError,
    ModelNotFoundError,
    NBModelsError,
    UnsafePathError,
)
from nbmodels.types import DownloadStatus

REPO = "nbmodels-test/download"
WEIGHTS = "weights.bin"
SIZE = 3 * 2**20 + 12_345  # not a multiple of the 1 MiB buffer
TOKEN = "hf_TestSecretToken123"


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def repos(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("download-repos")
    repo = root / REPO
    (repo / "shards").mkdir(parents=True)
    (repo / WEIGHTS).write_bytes(os.urandom(SIZE))
    (repo / "config.json").write_text('{"model_type": "llama"}\n')
    (repo / "README.md").write_text("---\nlicense: mit\n---\n# download test\n")
    for i in range(6):
        (repo / "shards" / f"part-{i}.safetensors").write_bytes(os.urandom(300_000 + i))
    for quant in ("Q4_K_M", "Q8_0"):
        (repo / f"model-{quant}.gguf").write_bytes(os.urandom(50_000))
    gated = root / "nbmodels-test" / "gated-download"
    gated.mkdir(parents=True)
    (gated / "model.bin").write_bytes(os.urandom(1000))
    for version in ("v1", "v2"):  # the same names and sizes, other bytes
        folder = root / "nbmodels-test" / f"model-{version}"
        folder.mkdir(parents=True)
        (folder / "config.json").write_text(f'{{"version": "{version}"}}\n')
        (folder / "weights.safetensors").write_bytes(os.urandom(200_000))
        (folder / "tokenizer.json").write_text(f'{{"t": "{version}"}}\n')
    empty = root / "nbmodels-test" / "empty-file"
    empty.mkdir(parents=True)
    (empty / "empty.txt").write_bytes(b"")
    (empty / "config.json").write_text("{}\n")
    return root


@pytest.fixture(scope="module")
def hub(repos: Path) -> Iterator[HubServer]:
    with HubServer(repos, gated={"nbmodels-test/gated-download"}) as server:
        yield server


@pytest.fixture(scope="module")
def cdn(repos: Path) -> Iterator[HubServer]:
    """A second host serving the same files, like the Hub's CDN behind its LFS redirects."""
    with HubServer(repos) as server:
        yield server


@pytest.fixture(autouse=True)
def _clean_faults(hub: HubServer, cdn: HubServer) -> Iterator[None]:
    hub.clear_faults()
    yield
    hub.clear_faults()
    cdn.clear_faults()


def _settings(hub: HubServer, tmp_path: Path, **kw: object) -> Settings:
    return Settings(home=tmp_path / "home", hf_endpoint=hub.url, hf_cache=tmp_path / "hf", **kw)  # type: ignore[arg-type]


def _downloader(hub: HubServer, tmp_path: Path, **kw: object) -> Downloader:
    kw.setdefault("backoff", 0.01)
    kw.setdefault("stall_timeout", 1.0)
    return Downloader(_settings(hub, tmp_path), **kw)  # type: ignore[arg-type]


def _get(d: Downloader, *args: object, **kw: object) -> DownloadTask:
    task = d.download(*args, **kw)  # type: ignore[arg-type]
    assert isinstance(task, DownloadTask)
    return task


def _blob_of(tmp_path: Path, repos: Path, path: str = WEIGHTS) -> Path:
    sha = _sha256(repos / REPO / path)
    return repo_folder(tmp_path / "hf", REPO) / "blobs" / sha


def _partial_bytes(blob: Path) -> int:
    """Bytes in the partial files of ``blob`` (each writer appends to one of its own)."""
    return sum(p.stat().st_size for p in blob.parent.glob(f"{blob.name}*{PARTIAL_SUFFIX}"))


def _gets(hub: HubServer, path: str, start: int) -> list[object]:
    return [r for r in hub.requests[start:] if r.method == "GET" and r.path.endswith(path)]


def _no_corrupt_file(tmp_path: Path, repos: Path) -> None:
    """Whatever is in the cache is right: every blob hashes to its name (sha256 blobs), every
    file under snapshots/ is byte for byte the repo's."""
    folder = repo_folder(tmp_path / "hf", REPO)
    for blob in (folder / "blobs").glob("*"):
        if blob.name.endswith((PARTIAL_SUFFIX, LOCK_SUFFIX)) or len(blob.name) != 64:
            continue
        assert _sha256(blob) == blob.name, f"corrupt blob {blob.name}"
    for commit in (folder / "snapshots").glob("*"):
        for link in commit.rglob("*"):
            if link.is_file():
                original = repos / REPO / link.relative_to(commit)
                assert link.read_bytes() == original.read_bytes(), link


# -- the happy path ----------------------------------------------------------------------------
def test_a_download_lands_in_the_hf_cache_and_transformers_loads_it_offline(
    hub_server: HubServer, tmp_path: Path
) -> None:
    from nbmodels.demo.hub.tinymodels import CHAT

    d = Downloader(
        Settings(home=tmp_path / "home", hf_endpoint=hub_server.url, hf_cache=tmp_path / "hf")
    )
    task = _get(d, CHAT)
    assert task.wait(60) is task and task.status is DownloadStatus.COMPLETED
    snapshot = task.result()
    assert snapshot.parent.name == "snapshots" and (snapshot / "model.safetensors").is_symlink()
    assert task.progress.progress_percentage == 100.0 and task.progress.files_done == 8
    from huggingface_hub import scan_cache_dir

    (repo,) = scan_cache_dir(tmp_path / "hf").repos
    assert repo.repo_id == CHAT and repo.size_on_disk == task.plan.total_bytes
    code = (
        "from transformers import AutoModelForCausalLM, AutoTokenizer\n"
        f"m = AutoModelForCausalLM.from_pretrained({CHAT!r}, cache_dir={str(tmp_path / 'hf')!r})\n"
        f"t = AutoTokenizer.from_pretrained({CHAT!r}, cache_dir={str(tmp_path / 'hf')!r})\n"
        "print(type(m).__name__, bool(t.chat_template))\n"
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_ENDPOINT": "http://127.0.0.1:9"}
    proc = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    assert proc.stdout.split() == ["LlamaForCausalLM", "True"], proc.stderr[-2000:]
    assert d.verify(CHAT).is_ok


def test_a_dry_run_lists_files_sizes_and_what_is_cached_and_writes_nothing(
    hub: HubServer, repos: Path, tmp_path: Path
) -> None:
    d = _downloader(hub, tmp_path)
    plan = d.download(REPO, dry_run=True)
    assert isinstance(plan, DownloadPlan)
    assert not (tmp_path / "hf").exists()
    sizes = {p.file.path: p.file.size for p in plan.files}
    on_disk = {
        str(p.relative_to(repos / REPO)): p.stat().st_size
        for p in (repos / REPO).rglob("*")
        if p.is_file()
    }
    assert sizes == on_disk and plan.total_bytes == sum(on_disk.values())
    assert plan.missing_bytes == plan.total_bytes and "0 cached" in repr(plan)
    assert list(plan.to_frame()["file"]) == [p.file.path for p in plan.files]
    _get(d, REPO, allow_patterns="*.json").wait(30)
    again = d.plan(REPO)
    assert {p.file.path for p in again.files if p.cached} == {"config.json"}


@pytest.mark.parametrize(
    ("allow", "ignore", "expected"),
    [
        ("*.json", None, {"config.json"}),
        ("shards/", None, {f"shards/part-{i}.safetensors" for i in range(6)}),
        ("*Q4_K_M.gguf", None, {"model-Q4_K_M.gguf"}),
        (None, ["*.gguf", "shards/*", WEIGHTS], {"config.json", "README.md"}),
        (["*.md", "*.json"], "README.md", {"config.json"}),
    ],
)
def test_patterns_choose_the_files(
    hub: HubServer, tmp_path: Path, allow: object, ignore: object, expected: set[str]
) -> None:
    task = _get(_downloader(hub, tmp_path), REPO, allow_patterns=allow, ignore_patterns=ignore)
    snapshot = task.result(30)
    got = {str(p.relative_to(snapshot)) for p in snapshot.rglob("*") if p.is_file()}
    assert got == expected


def test_patterns_that_match_nothing_say_so(hub: HubServer, tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="No file of"):
        _downloader(hub, tmp_path).download(REPO, allow_patterns="*.onnx")


# -- faults: each recovers to a verified file, or fails leaving nothing corrupt ------------------
RECOVERING = [
    ("drop", {"at": 0}),
    ("drop", {"at": 1}),
    ("drop", {"at": SIZE // 2}),
    ("drop", {"at": SIZE - 1}),
    ("drop", {"at": 2**20}),  # exactly at a buffer boundary
    ("drop", {"at": SIZE // 3, "times": 3}),
    ("status", {"status": 500}),
    ("status", {"status": 502}),
    ("status", {"status": 503}),
    ("status", {"status": 503, "retry_after": 0}),
    ("status", {"status": 429, "retry_after": 0}),
    ("status", {"status": 500, "times": 3}),
    ("stall", {"at": SIZE // 2, "delay": 2.5}),
    ("stall", {"at": 0, "delay": 2.5}),
    ("trickle", {"at": 256 * 1024, "delay": 0.01}),
    ("short", {"at": 1}),
    ("short", {"at": SIZE // 2}),
    ("long", {"at": 1}),
    ("long", {"at": 4096}),
]


@pytest.mark.parametrize(("kind", "options"), RECOVERING, ids=lambda v: str(v))
def test_a_transient_fault_is_retried_to_a_verified_file(
    hub: HubServer, repos: Path, tmp_path: Path, kind: str, options: dict[str, object]
) -> None:
    hub.add_fault(kind, path=WEIGHTS, **options)
    start = len(hub.requests)
    task = _get(_downloader(hub, tmp_path), REPO, allow_patterns=WEIGHTS)
    task.wait(60)
    blob = _blob_of(tmp_path, repos)
    assert blob.is_file() and _sha256(blob) == blob.name
    assert not blob.with_name(blob.name + PARTIAL_SUFFIX).exists()
    gets = _gets(hub, WEIGHTS, start)
    if kind == "trickle":  # slow is not broken: one answer, read to the end
        assert len(gets) == 1
    else:
        assert len(gets) >= 2, "the fault was met and the file fetched again"
    if kind == "drop" and 0 < int(options["at"]) < SIZE:  # type: ignore[call-overload]
        assert gets[1].range == f"bytes={options['at']}-"  # type: ignore[attr-defined]
    _no_corrupt_file(tmp_path, repos)


@pytest.mark.parametrize("at", [0, 1, SIZE // 2, SIZE - 1])
def test_bad_bytes_once_are_removed_and_the_file_fetched_once_more(
    hub: HubServer, repos: Path, tmp_path: Path, at: int
) -> None:
    hub.add_fault("corrupt", path=WEIGHTS, at=at)  # one bad copy (a proxy's hiccup)
    messages: list[str] = []
    d = _downloader(hub, tmp_path, on_progress=[lambda p: messages.append(p.status_message)])
    start = len(hub.requests)
    _get(d, REPO, allow_patterns=WEIGHTS).wait(60)
    blob = _blob_of(tmp_path, repos)
    assert _sha256(blob) == blob.name
    assert [g.range for g in _gets(hub, WEIGHTS, start)] == [None, None]  # type: ignore[attr-defined]
    assert any("did not match its sha256" in m and "once more" in m for m in messages)
    _no_corrupt_file(tmp_path, repos)


@pytest.mark.parametrize("at", [0, SIZE - 1])
def test_bad_bytes_twice_fail_naming_the_file_and_leave_nothing(
    hub: HubServer, repos: Path, tmp_path: Path, at: int
) -> None:
    hub.add_fault("corrupt", path=WEIGHTS, at=at, times=2)
    d = _downloader(hub, tmp_path)
    task = _get(d, REPO, allow_patterns=WEIGHTS)
    with pytest.raises(ChecksumMismatchError, match=f"{WEIGHTS} does not match its sha256.*twice"):
        task.wait(60)
    assert task.status is DownloadStatus.FAILED and "sha256" in (task.progress.error_message or "")
    blob = _blob_of(tmp_path, repos)
    assert not blob.exists() and not list(blob.parent.glob(f"*{PARTIAL_SUFFIX}"))
    assert not (repo_folder(tmp_path / "hf", REPO) / "snapshots").exists()
    _get(d, REPO, allow_patterns=WEIGHTS).wait(60)  # the next try fetches a good copy
    assert _sha256(blob) == blob.name


@pytest.mark.parametrize("status", [500, 502, 503, 429])
def test_a_fault_that_never_ends_fails_clearly_after_the_retries(
    hub: HubServer, repos: Path, tmp_path: Path, status: int
) -> None:
    hub.add_fault("status", path=WEIGHTS, status=status, times=100, retry_after=0)
    task = _get(_downloader(hub, tmp_path, retries=2), REPO, allow_patterns=WEIGHTS)
    with pytest.raises(DownloadError, match=f"failed after 2 retries.*HTTP {status}"):
        task.wait(60)
    assert not _blob_of(tmp_path, repos).exists()
    _no_corrupt_file(tmp_path, repos)


def test_a_connection_dropped_every_time_keeps_its_bytes_for_the_next_try(
    hub: HubServer, repos: Path, tmp_path: Path
) -> None:
    hub.add_fault("drop", path=WEIGHTS, at=2**20, times=3)
    d = _downloader(hub, tmp_path, retries=0)
    with pytest.raises(DownloadError, match="download again to resume"):
        _get(d, REPO, allow_patterns=WEIGHTS).wait(60)
    blob = _blob_of(tmp_path, repos)
    partial = blob.with_name(blob.name + PARTIAL_SUFFIX)
    assert partial.stat().st_size == 2**20 and not blob.exists()
    start = len(hub.requests)
    hub.clear_faults()
    _get(d, REPO, allow_patterns=WEIGHTS).wait(60)
    assert [g.range for g in _gets(hub, WEIGHTS, start)] == [f"bytes={2**20}-"]  # type: ignore[attr-defined]
    assert _sha256(blob) == blob.name


def test_lfs_redirects_to_another_host_get_no_token(
    hub: HubServer, cdn: HubServer, repos: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    import logging

    caplog.set_level(logging.DEBUG)
    hub.add_fault("redirect", path="*.bin", location=cdn.url, times=10)
    hub.add_fault("status", path="config.json", status=503, retry_after=0)  # a retry, logged
    settings = _settings(hub, tmp_path, hf_token=TOKEN)
    d = Downloader(settings, backoff=0.01)
    hub_start, cdn_start = len(hub.requests), len(cdn.requests)
    task = _get(d, REPO, allow_patterns=["*.bin", "*.json"])
    task.wait(60)
    assert _sha256(_blob_of(tmp_path, repos)) == _blob_of(tmp_path, repos).name
    at_hub = _gets(hub, WEIGHTS, hub_start)
    at_cdn = _gets(cdn, WEIGHTS, cdn_start)
    assert at_hub and all(r.status == 302 and r.authorized for r in at_hub)  # type: ignore[attr-defined]
    assert at_cdn and not any(r.authorized for r in at_cdn)  # type: ignore[attr-defined]
    assert TOKEN not in repr(task) + repr(task.progress) + repr(d) + repr(task.plan)
    assert TOKEN not in caplog.text and TOKEN not in repr(settings)


def test_a_gated_file_without_a_token_is_an_auth_error(hub: HubServer, tmp_path: Path) -> None:
    task = _get(_downloader(hub, tmp_path), "nbmodels-test/gated-download")
    with pytest.raises(AccessDeniedError, match="HF_TOKEN"):
        task.wait(30)
    ok = Downloader(_settings(hub, tmp_path, hf_token=TOKEN)).download(
        "nbmodels-test/gated-download"
    )
    assert isinstance(ok, DownloadTask) and ok.wait(30).status is DownloadStatus.COMPLETED
    assert TOKEN not in str(task.error) + repr(ok)


def test_a_missing_repo_is_model_not_found(hub: HubServer, tmp_path: Path) -> None:
    with pytest.raises(ModelNotFoundError):
        _downloader(hub, tmp_path).download("nobody/nothing")


# -- cancel, resume, kill, share -----------------------------------------------------------------
def _wait_for(condition: object, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return
        time.sleep(0.02)
    raise AssertionError("condition not met in time")


def test_cancel_keeps_the_bytes_and_a_new_download_resumes(
    hub: HubServer, repos: Path, tmp_path: Path
) -> None:
    d = _downloader(hub, tmp_path, max_bytes_per_second=2_000_000)
    task = _get(d, REPO, allow_patterns=WEIGHTS)
    blob = _blob_of(tmp_path, repos)
    partial = blob.with_name(blob.name + PARTIAL_SUFFIX)
    _wait_for(lambda: _partial_bytes(blob) >= 2**20)
    task.cancel()
    with pytest.raises(DownloadCancelledError):
        task.wait(30)
    assert task.status is DownloadStatus.CANCELLED
    kept = partial.stat().st_size  # a stopped writer leaves its bytes under the shared name
    assert 0 < kept < SIZE and not blob.exists()
    start = len(hub.requests)
    fast = _downloader(hub, tmp_path)
    fast.download(REPO, allow_patterns=WEIGHTS).wait(60)  # type: ignore[union-attr]
    assert [g.range for g in _gets(hub, WEIGHTS, start)] == [f"bytes={kept}-"]  # type: ignore[attr-defined]
    assert _sha256(blob) == blob.name


def test_cleanup_removes_the_partial_of_a_cancelled_task(
    hub: HubServer, repos: Path, tmp_path: Path
) -> None:
    d = _downloader(hub, tmp_path, max_bytes_per_second=2_000_000)
    task = _get(d, REPO, allow_patterns=WEIGHTS)
    with pytest.raises(DownloadError, match="cancel"):
        task.cleanup()
    blob = _blob_of(tmp_path, repos)
    _wait_for(lambda: _partial_bytes(blob) > 0)
    task.cancel()
    with pytest.raises(DownloadCancelledError):
        task.wait(30)
    assert task.cleanup() > 0 and _partial_bytes(blob) == 0
    assert not list(blob.parent.glob(f"*{PARTIAL_SUFFIX}"))


_CHILD = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from nbmodels import Settings
    from nbmodels.downloader.core import Downloader
    endpoint, cache, rate, patterns = sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4]
    d = Downloader(Settings(home=Path(cache) / "home", hf_endpoint=endpoint, hf_cache=cache),
                   max_bytes_per_second=rate or None, backoff=0.01)
    task = d.download("REPO", allow_patterns=patterns.split(","))
    task.wait()
    print("done", task.result())
    """
).replace("REPO", REPO)


def _child(hub: HubServer, tmp_path: Path, rate: float, patterns: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", _CHILD, hub.url, str(tmp_path / "hf"), str(rate), patterns],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.slow
def test_a_kernel_killed_mid_download_resumes_in_a_new_process(
    hub: HubServer, repos: Path, tmp_path: Path
) -> None:
    blob = _blob_of(tmp_path, repos)
    child = _child(hub, tmp_path, 1_000_000, WEIGHTS)
    try:
        _wait_for(lambda: _partial_bytes(blob) >= 1_200_000, 60)
        child.send_signal(signal.SIGKILL)
        child.wait(30)
    finally:
        if child.poll() is None:
            child.kill()
    kept = _partial_bytes(blob)  # the dead writer's own file, adopted by the next one
    lock = blob.with_name(blob.name + LOCK_SUFFIX)
    assert lock.exists(), "the killed process left its lock behind"
    start = len(hub.requests)
    _get(_downloader(hub, tmp_path), REPO, allow_patterns=WEIGHTS).wait(60)
    assert _sha256(blob) == blob.name and not lock.exists()
    ranges = [g.range for g in _gets(hub, WEIGHTS, start)]  # type: ignore[attr-defined]
    assert ranges == [f"bytes={kept}-"], "the new process fetched only what was missing"


@pytest.mark.slow
def test_two_processes_on_one_model_fetch_each_file_once(
    hub: HubServer, repos: Path, tmp_path: Path
) -> None:
    start = len(hub.requests)
    patterns = f"{WEIGHTS},shards/*"
    children = [_child(hub, tmp_path, 4_000_000, patterns) for _ in range(2)]
    outs = [c.communicate(timeout=120) for c in children]
    assert all(c.returncode == 0 for c in children), outs
    snapshots = {out.split()[-1] for out, _ in outs}
    assert len(snapshots) == 1
    for path in [WEIGHTS] + [f"shards/part-{i}.safetensors" for i in range(6)]:
        fetched = [g for g in _gets(hub, path, start) if g.status in (200, 206)]  # type: ignore[attr-defined]
        assert len(fetched) == 1, f"{path} fetched {len(fetched)} times"
    assert (
        Downloader(_settings(hub, tmp_path))
        .verify(
            REPO,
        )
        .bad
        == ()
    )


# -- limits --------------------------------------------------------------------------------------
def test_the_concurrency_limit_holds(hub: HubServer, tmp_path: Path) -> None:
    d = _downloader(hub, tmp_path, max_concurrent_downloads=2, max_bytes_per_second=6_000_000)
    _get(d, REPO, allow_patterns="shards/*").wait(60)
    assert d.peak_transfers == 2


def test_the_throttle_is_never_exceeded(hub: HubServer, repos: Path, tmp_path: Path) -> None:
    rate = 1_500_000
    d = _downloader(hub, tmp_path, max_bytes_per_second=rate)
    t0 = time.monotonic()
    _get(d, REPO, allow_patterns=WEIGHTS).wait(60)
    elapsed = time.monotonic() - t0
    # a lower bound only (the machine may be slow, never faster than the limit); the
    # throttle's accuracy is measured in benchmarks/
    assert elapsed >= 0.9 * (SIZE - 0.25 * rate) / rate


def test_a_full_disk_is_refused_before_anything_is_written(
    hub: HubServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import shutil as shutil_module

    real = shutil_module.disk_usage

    def tiny(path: object) -> object:
        usage = real(path)  # type: ignore[arg-type]
        return type(usage)(usage.total, usage.total - 1000, 1000)

    monkeypatch.setattr(shutil_module, "disk_usage", tiny)
    with pytest.raises(InsufficientSpaceError, match="free some space"):
        _downloader(hub, tmp_path).download(REPO)
    assert not (tmp_path / "hf").exists()


def test_a_disk_that_fills_during_the_download_is_a_storage_error_and_no_blob(
    hub: HubServer, repos: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from nbmodels.downloader import http as transfer  # where a writer's file is opened
    from nbmodels.errors import StorageError

    written = [0]

    def filling_open(file: object, mode: str = "r", *args: object, **kwargs: object) -> object:
        fh = open(file, mode, *args, **kwargs)  # type: ignore[call-overload]  # noqa: SIM115
        if str(file).endswith(PARTIAL_SUFFIX) and ("w" in mode or "a" in mode):
            return _Filling(fh, written)
        return fh

    monkeypatch.setattr(transfer, "open", filling_open, raising=False)
    task = _get(_downloader(hub, tmp_path), REPO, allow_patterns=WEIGHTS)
    with pytest.raises(StorageError, match="disk is full"):
        task.wait(60)
    assert not _blob_of(tmp_path, repos).exists()
    assert not (repo_folder(tmp_path / "hf", REPO) / "snapshots").exists()


class _Filling:
    """A file that raises ENOSPC once more than 1 MiB went into it."""

    def __init__(self, fh: object, written: list[int]) -> None:
        self._fh, self._written = fh, written

    def write(self, data: object) -> int:
        import errno

        self._written[0] += len(data)  # type: ignore[arg-type]
        if self._written[0] > 2**20:
            raise OSError(errno.ENOSPC, "No space left on device")
        return self._fh.write(data)  # type: ignore[attr-defined,no-any-return]

    def __enter__(self) -> _Filling:
        return self

    def __exit__(self, *exc: object) -> None:
        self._fh.close()  # type: ignore[attr-defined]

    def __getattr__(self, name: str) -> object:
        return getattr(self._fh, name)


# -- verify, callbacks, safety ------------------------------------------------------------------
def test_verify_finds_a_blob_damaged_on_disk_and_repair_removes_it(
    hub: HubServer, repos: Path, tmp_path: Path
) -> None:
    d = _downloader(hub, tmp_path)
    _get(d, REPO, allow_patterns=[WEIGHTS, "*.json"]).wait(60)
    assert d.verify(REPO).ok and d.verify(REPO).is_ok is False  # the rest was never fetched
    blob = _blob_of(tmp_path, repos)
    with blob.open("r+b") as fh:
        fh.seek(1000)
        fh.write(b"\x00\x01")
    report = d.verify(REPO, repair=True)
    assert report.bad == (WEIGHTS,) and "config.json" in report.ok
    assert not blob.exists()
    _get(d, REPO, allow_patterns=WEIGHTS).wait(60)
    assert _sha256(blob) == blob.name


def test_callbacks_get_the_seed_signature_and_snapshots(hub: HubServer, tmp_path: Path) -> None:
    seen: list[tuple[str, int, int | None, DownloadStatus]] = []
    snapshots: list[object] = []
    d = _downloader(
        hub, tmp_path, callbacks=[lambda *a: seen.append(a)], on_progress=[snapshots.append]
    )  # type: ignore[arg-type]
    task = _get(d, REPO, allow_patterns=[WEIGHTS, "*.json"])
    task.wait(60)
    assert seen[-1][3] is DownloadStatus.COMPLETED and seen[-1][1] == seen[-1][2]
    done = [b for _, b, _, s in seen]
    assert done == sorted(done), "bytes only go forward"
    assert {s for *_, s in seen} >= {DownloadStatus.DOWNLOADING, DownloadStatus.COMPLETED}
    first, last = snapshots[0], snapshots[-1]
    assert first is not last and last.files_done == last.files_total == 2  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "name",
    ["../evil", "a/../../b", "/etc/passwd", "a\\b", "", ".", "a//b", "a/./b", "x\x00y"],
)
def test_unsafe_file_names_are_refused(name: str) -> None:
    with pytest.raises(UnsafePathError):
        safe_relative_path(name)


def test_safe_names_pass() -> None:
    assert str(safe_relative_path("shards/part-1.safetensors")) == "shards/part-1.safetensors"


def test_a_local_dir_gets_plain_files_and_no_partials_in_view(
    hub: HubServer, repos: Path, tmp_path: Path
) -> None:
    target = tmp_path / "model"
    task = _get(
        _downloader(hub, tmp_path), REPO, allow_patterns=["*.json", "shards/*"], local_dir=target
    )
    assert task.result(60) == target
    files = sorted(str(p.relative_to(target)) for p in target.rglob("*") if p.is_file())
    model_files = [f for f in files if not f.startswith(".nbmodels/")]
    assert model_files == ["config.json"] + [f"shards/part-{i}.safetensors" for i in range(6)]
    assert not [f for f in files if f.endswith(PARTIAL_SUFFIX)]
    assert (target / "config.json").read_bytes() == (repos / REPO / "config.json").read_bytes()


def test_wait_with_a_timeout_says_how_far_it_got(hub: HubServer, tmp_path: Path) -> None:
    task = _get(
        _downloader(hub, tmp_path, max_bytes_per_second=1_000_000), REPO, allow_patterns=WEIGHTS
    )
    with pytest.raises(TimeoutError, match="still running"):
        task.wait(0.2)
    task.cancel()
    with pytest.raises(DownloadCancelledError):
        task.wait(30)


# -- the notebook face ---------------------------------------------------------------------------
def test_the_panel_follows_a_task_and_its_buttons_cancel_and_retry(
    hub: HubServer, repos: Path, tmp_path: Path
) -> None:
    pytest.importorskip("ipywidgets")
    from nbmodels.widgets.downloads import DownloadPanel

    d = _downloader(hub, tmp_path, max_bytes_per_second=2_000_000)
    task = _get(d, REPO, allow_patterns=WEIGHTS)
    panel = DownloadPanel([task], interval=0.05)
    row = panel.rows[0]
    assert row.name.value == REPO and row.retry_button.disabled and not row.cancel_button.disabled
    _wait_for(lambda: row.bar.value > 5)
    assert "MB/s" in row.stats.value or "KB/s" in row.stats.value
    row.cancel_button.click()
    _wait_for(lambda: task.done)
    _wait_for(lambda: row.bar.bar_style == "warning")
    assert not row.retry_button.disabled and row.cancel_button.disabled
    assert "resume" in row.message.value
    d.throttle.rate = None  # the retry runs at full speed
    row.retry_button.click()
    assert row.task is not task
    _wait_for(lambda: row.task.done and row.bar.bar_style == "success", 60)
    assert row.bar.value == 100.0 and panel.overall.value == 100.0
    assert "verified" in row.message.value and "1 download" in panel.summary.value
    assert _sha256(_blob_of(tmp_path, repos)) == _blob_of(tmp_path, repos).name


def test_a_task_shows_itself_as_the_panel_in_a_notebook(hub: HubServer, tmp_path: Path) -> None:
    pytest.importorskip("ipywidgets")
    task = _get(_downloader(hub, tmp_path), REPO, allow_patterns="*.json")
    bundle = task._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    task.wait(30)


def test_browse_downloads_the_selected_model(hub: HubServer, repos: Path, tmp_path: Path) -> None:
    pytest.importorskip("ipywidgets")
    import nbmodels
    from nbmodels.discover.catalog import Catalog

    cat = Catalog(_settings(hub, tmp_path), sources=["huggingface"])
    b = nbmodels.browse(cat, query="download")
    assert b.download_button.disabled  # nothing picked yet
    b.select(REPO)
    assert b.selected is not None and not b.download_button.disabled
    b.download_button.click()
    panel = b._panel
    assert panel is not None and b.downloads_box.children == (panel.widget,)
    _wait_for(lambda: panel.rows[0].task.done, 60)
    assert panel.rows[0].task.status is DownloadStatus.COMPLETED
    assert _sha256(_blob_of(tmp_path, repos)) == _blob_of(tmp_path, repos).name


# -- more ways a hub or a disk can be wrong ------------------------------------------------------
def test_a_hub_that_ignores_range_restarts_the_file_and_ends_verified(
    hub: HubServer, repos: Path, tmp_path: Path
) -> None:
    hub.add_fault("drop", path=WEIGHTS, at=SIZE // 2)
    hub.add_fault("ignore-range", path=WEIGHTS)
    start = len(hub.requests)
    _get(_downloader(hub, tmp_path), REPO, allow_patterns=WEIGHTS).wait(60)
    gets = _gets(hub, WEIGHTS, start)
    assert [g.range for g in gets][:2] == [None, f"bytes={SIZE // 2}-"]  # type: ignore[attr-defined]
    assert gets[1].status == 200  # type: ignore[attr-defined]
    blob = _blob_of(tmp_path, repos)
    assert _sha256(blob) == blob.name
    _no_corrupt_file(tmp_path, repos)


def test_a_redirect_loop_fails_clearly_and_writes_nothing(
    hub: HubServer, repos: Path, tmp_path: Path
) -> None:
    hub.add_fault("redirect", path=WEIGHTS, location=hub.url, times=100)
    task = _get(_downloader(hub, tmp_path), REPO, allow_patterns=WEIGHTS)
    with pytest.raises(DownloadError, match="Too many redirects"):
        task.wait(60)
    assert not _blob_of(tmp_path, repos).exists()
    _no_corrupt_file(tmp_path, repos)


def test_a_partial_longer_than_the_file_is_not_trusted(
    hub: HubServer, repos: Path, tmp_path: Path
) -> None:
    blob = _blob_of(tmp_path, repos)
    partial = blob.with_name(blob.name + PARTIAL_SUFFIX)
    partial.parent.mkdir(parents=True)
    partial.write_bytes(b"x" * (SIZE + 10))
    _get(_downloader(hub, tmp_path), REPO, allow_patterns=WEIGHTS).wait(60)
    assert _sha256(blob) == blob.name and not partial.exists()


def test_a_partial_with_wrong_bytes_is_caught_by_the_hash_and_fetched_whole(
    hub: HubServer, repos: Path, tmp_path: Path
) -> None:
    blob = _blob_of(tmp_path, repos)
    partial = blob.with_name(blob.name + PARTIAL_SUFFIX)
    partial.parent.mkdir(parents=True)
    good = (repos / REPO / WEIGHTS).read_bytes()
    partial.write_bytes(good[:1000] + b"\x00" + good[1001 : 2**20])  # resumed, but damaged
    start = len(hub.requests)
    _get(_downloader(hub, tmp_path), REPO, allow_patterns=WEIGHTS).wait(60)
    assert _sha256(blob) == blob.name and _partial_bytes(blob) == 0
    # the resumed copy failed its hash, so the second copy came from byte 0
    assert [g.range for g in _gets(hub, WEIGHTS, start)] == [f"bytes={2**20}-", None]  # type: ignore[attr-defined]


def test_a_corrupted_small_git_file_fails_its_git_blob_sha1(
    hub: HubServer, repos: Path, tmp_path: Path
) -> None:
    hub.add_fault("corrupt", path="config.json", at=3, times=2)
    task = _get(_downloader(hub, tmp_path), REPO, allow_patterns="config.json")
    with pytest.raises(ChecksumMismatchError, match="git blob sha1"):
        task.wait(30)
    blobs = repo_folder(tmp_path / "hf", REPO) / "blobs"
    assert [p.name for p in blobs.iterdir() if not p.name.endswith(LOCK_SUFFIX)] == []


@pytest.mark.parametrize("kind", ["drop", "status", "corrupt", "short", "stall"])
def test_faults_on_one_of_many_files_leave_the_others_and_no_corrupt_file(
    hub: HubServer, repos: Path, tmp_path: Path, kind: str
) -> None:
    options = {"at": 1000, "delay": 2.5} if kind == "stall" else {"at": 1000}
    hub.add_fault(kind, path="shards/part-3.safetensors", times=1, **options)
    task = _get(_downloader(hub, tmp_path), REPO, allow_patterns="shards/*")
    task.wait(60)  # each fault, once, is recovered from (a bad copy is fetched once more)
    assert Downloader(_settings(hub, tmp_path)).verify(REPO).bad == ()
    _no_corrupt_file(tmp_path, repos)


def test_a_hub_answering_html_is_a_clear_error(tmp_path: Path) -> None:
    import http.server
    import threading

    class Html(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = b"<html><body>Welcome to the captive portal</body></html>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Html)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        d = Downloader(Settings(home=tmp_path / "home", hf_endpoint=url, hf_cache=tmp_path / "hf"))
        with pytest.raises(NBModelsError) as caught:
            d.download(REPO)
        assert url in str(caught.value) or "Hub" in str(caught.value)
        assert not (tmp_path / "hf").exists()
    finally:
        server.shutdown()


def test_the_catalog_learns_what_is_downloaded_from_the_disk(
    hub: HubServer, tmp_path: Path
) -> None:
    import shutil

    import nbmodels
    from nbmodels.discover.catalog import Catalog

    settings = _settings(hub, tmp_path)
    cat = Catalog(settings, sources=["huggingface"])

    def flag() -> bool:
        row = cat.search("download", online=False, limit=None)
        return bool(row.loc[row["id"] == REPO, "is_downloaded"].iloc[0])

    assert REPO in set(cat.search("download", limit=None)["id"])
    assert flag() is False
    Downloader(settings).download(REPO, allow_patterns="*.json").wait(30)  # type: ignore[union-attr]
    assert flag() is True  # the same remembered answer, the disk's truth
    on_disk = nbmodels.downloaded_models(settings)
    assert REPO in set(on_disk["id"]) and on_disk.loc[on_disk["id"] == REPO, "local_path"].iloc[0]
    shutil.rmtree(repo_folder(tmp_path / "hf", REPO))
    assert flag() is False  # deleted behind nbmodels' back: not shown as downloaded


# -- Ollama models through a running Ollama's /api/pull ---------------------------------------------
def test_an_ollama_model_pulls_with_the_same_task_and_progress(
    ollama_host: str, tmp_path: Path
) -> None:
    import ollama

    settings = Settings.from_env(ollama_host=ollama_host, home=tmp_path / "home")
    seen: list[tuple[int, int | None]] = []
    d = Downloader(settings, callbacks=[lambda _m, done, total, _s: seen.append((done, total))])
    task = _get(d, "all-minilm:22m", source="ollama")
    assert task.wait(60).status is DownloadStatus.COMPLETED
    p = task.progress
    assert p.total_bytes and p.downloaded_bytes == p.total_bytes and p.files_total >= 2
    assert any(0 < done < (total or 0) for done, total in seen), "progress moved in steps"
    client = ollama.Client(host=ollama_host)
    assert "all-minilm:22m" in {m.model for m in client.list().models}
    assert task.result().is_file()  # the manifest in Ollama's store


def test_an_unknown_ollama_model_is_a_clear_error(ollama_host: str, tmp_path: Path) -> None:
    settings = Settings.from_env(ollama_host=ollama_host, home=tmp_path / "home")
    task = _get(Downloader(settings), "no-such-model:1b", source="ollama")
    with pytest.raises(DownloadError, match="could not pull no-such-model"):
        task.wait(30)


def test_no_ollama_running_says_how_to_start_it(tmp_path: Path) -> None:
    import socket

    from nbmodels.errors import OllamaNotRunningError

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}"
    d = Downloader(Settings(home=tmp_path / "h", ollama_host=dead), ollama_registry=dead)
    task = _get(d, "x:1b", source="ollama", via="api")
    with pytest.raises(OllamaNotRunningError, match="ollama serve"):
        task.wait(30)
    with pytest.raises(OllamaNotRunningError, match="registry failed too"):
        d.download("x:1b", source="ollama")  # neither an Ollama nor the registry answers


# -- Ollama models straight from a registry (OCI distribution API), no Ollama running ---------------
@pytest.fixture
def registry(tmp_path: Path, tiny_models: dict[str, Path]) -> Iterator[object]:
    """A local registry serving real blobs (valid GGUF files and layers) by their digests."""
    from nbmodels.demo.ollama.registry import RegistryServer
    from nbmodels.demo.ollama.seed import seed_demo_models

    seed_demo_models(
        tmp_path / "registry-store", chat_model=tiny_models["nbmodels-demo/tiny-llama-chat"]
    )
    with RegistryServer(tmp_path / "registry-store") as server:
        yield server


def _registry_downloader(registry: object, tmp_path: Path) -> Downloader:
    import socket

    with socket.socket() as s:  # no Ollama anywhere
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}"
    settings = Settings(home=tmp_path / "home", ollama_host=dead, ollama_models=tmp_path / "mine")
    return Downloader(settings, ollama_registry=registry.url, backoff=0.01)  # type: ignore[attr-defined]


def test_an_ollama_model_comes_straight_from_the_registry_into_the_store(
    registry: object, tmp_path: Path
) -> None:
    from nbmodels.gguf_info import read_gguf_info
    from nbmodels.storage.ollama_store import OllamaStore

    d = _registry_downloader(registry, tmp_path)
    plan = d.download("tinyllama-chat", source="ollama", dry_run=True)
    assert isinstance(plan, DownloadPlan) and plan.kind == "ollama-registry"
    assert len(plan.files) >= 3 and not any(p.cached for p in plan.files)
    assert not (tmp_path / "mine").exists()
    task = _get(d, "tinyllama-chat", source="ollama")
    assert task.wait(30).status is DownloadStatus.COMPLETED
    store = OllamaStore(tmp_path / "mine")
    model = store.get("tinyllama-chat:latest")
    for layer in model.layers:
        blob = store.blob_path(layer["digest"])
        assert "sha256:" + hashlib.sha256(blob.read_bytes()).hexdigest() == layer["digest"]
    gguf = model.model_blob
    assert gguf is not None and read_gguf_info(gguf).architecture
    assert task.result() == store.manifest_path("tinyllama-chat:latest")
    again = d.download("tinyllama-chat", source="ollama", dry_run=True)
    assert all(p.cached for p in again.files)  # type: ignore[union-attr]


def test_a_registry_pull_resumes_a_dropped_blob_and_never_shows_a_half_model(
    registry: object, tmp_path: Path
) -> None:
    from nbmodels.storage.ollama_store import OllamaStore

    registry.drop_at = 100  # type: ignore[attr-defined]
    d = _registry_downloader(registry, tmp_path)
    start = len(registry.requests)  # type: ignore[attr-defined]
    _get(d, "tinyllama-chat", source="ollama").wait(30)
    ranged = [r for r in registry.requests[start:] if r.range]  # type: ignore[attr-defined]
    assert ranged and ranged[0].range == "bytes=100-"
    assert "tinyllama-chat:latest" in OllamaStore(tmp_path / "mine")


def test_a_registry_without_the_model_is_model_not_found(registry: object, tmp_path: Path) -> None:
    with pytest.raises(ModelNotFoundError, match="no 'nope:1b'"):
        _registry_downloader(registry, tmp_path).download("nope:1b", source="ollama")


def test_wait_with_progress_draws_a_tqdm_bar(
    hub: HubServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    task = _get(
        _downloader(hub, tmp_path, max_bytes_per_second=3_000_000), REPO, allow_patterns=WEIGHTS
    )
    task.wait(60, progress=True)
    err = capsys.readouterr().err
    assert REPO in err and "100%" in err and "1/1 files" in err


def test_a_broken_callback_is_said_once_and_the_download_goes_on(
    hub: HubServer, tmp_path: Path
) -> None:
    from nbmodels.errors import NBModelsWarning

    def broken(*_args: object) -> None:
        raise ValueError("my bug")

    d = _downloader(hub, tmp_path, callbacks=[broken])
    with pytest.warns(NBModelsWarning, match="my bug") as said:
        task = _get(d, REPO, allow_patterns=[WEIGHTS, "*.json"])
        task.wait(60)
    assert task.status is DownloadStatus.COMPLETED
    assert len([w for w in said if "my bug" in str(w.message)]) == 1


# -- what an independent run against unseen servers broke (issue 19) ----------------------------
def test_a_holder_waiting_on_retry_after_keeps_its_lease_and_nothing_is_fetched_twice(
    hub: HubServer, repos: Path, tmp_path: Path
) -> None:
    """The lease beats while its holder lives, not only while bytes arrive: a holder parked
    by a Retry-After longer than the lease timeout is not taken over."""
    hub.add_fault("status", path=WEIGHTS, status=429, retry_after=3, times=1)
    start = len(hub.requests)
    first = _get(_downloader(hub, tmp_path, lease_timeout=1.0), REPO, allow_patterns=WEIGHTS)
    _wait_for(lambda: any(g.status == 429 for g in _gets(hub, WEIGHTS, start)))  # type: ignore[attr-defined]
    second = _get(_downloader(hub, tmp_path, lease_timeout=1.0), REPO, allow_patterns=WEIGHTS)
    first.wait(60)
    second.wait(60)
    fetched = [g for g in _gets(hub, WEIGHTS, start) if g.status in (200, 206)]  # type: ignore[attr-defined]
    assert len(fetched) == 1, "the waiting process took over a live holder"
    blob = _blob_of(tmp_path, repos)
    assert _sha256(blob) == blob.name and blob.stat().st_size == SIZE
    _no_corrupt_file(tmp_path, repos)


def test_bytes_another_writer_slipped_into_the_file_are_never_published(
    hub: HubServer, repos: Path, tmp_path: Path
) -> None:
    """The published file is the one whose bytes were hashed: a stream that hashed right
    over a file that holds more (a second writer's) is not "verified"."""
    blob = _blob_of(tmp_path, repos)
    blob.parent.mkdir(parents=True)  # a resumed transfer: it appends to what is there
    good = (repos / REPO / WEIGHTS).read_bytes()
    blob.with_name(blob.name + PARTIAL_SUFFIX).write_bytes(good[:100_000])
    task = _get(
        _downloader(hub, tmp_path, max_bytes_per_second=2_000_000), REPO, allow_patterns=WEIGHTS
    )
    _wait_for(lambda: _partial_bytes(blob) >= 512 * 1024)
    (writing,) = blob.parent.glob(f"{blob.name}*{PARTIAL_SUFFIX}")
    with open(writing, "ab") as other:  # what a second writer on the same file does
        other.write(os.urandom(4096))
    task.wait(60)
    assert blob.stat().st_size == SIZE and _sha256(blob) == blob.name
    _no_corrupt_file(tmp_path, repos)


def test_a_holder_whose_lease_was_taken_stops_writing_and_waits(
    hub: HubServer, repos: Path, tmp_path: Path
) -> None:
    d = _downloader(hub, tmp_path, max_bytes_per_second=1_000_000, lease_timeout=1.0)
    task = _get(d, REPO, allow_patterns=WEIGHTS)
    blob = _blob_of(tmp_path, repos)
    lease = blob.with_name(blob.name + LOCK_SUFFIX)
    _wait_for(lambda: _partial_bytes(blob) >= 256 * 1024)
    lease.write_text(f"another-host 1 {'0' * 16}\n")  # taken over by another machine
    # the holder notices within a heartbeat, stops and leaves the file to the new holder
    _wait_for(lambda: not list(blob.parent.glob(f"{blob.name}.*{PARTIAL_SUFFIX}")), 10)
    size = _partial_bytes(blob)
    time.sleep(0.6)
    assert _partial_bytes(blob) == size and not task.done, "it kept writing after losing"
    lease.unlink()  # the other machine gave up without finishing: this one goes on
    task.wait(60)
    assert _sha256(blob) == blob.name
    _no_corrupt_file(tmp_path, repos)


_RACE = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from nbmodels.downloader.lease import Lease
    folder, trials, go = Path(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
    while time.time() < go:
        pass
    won = []
    for trial in range(trials):
        path = folder / f"{trial}.lock"
        while not (folder / f"{trial}.go").exists():
            pass
        lease = Lease(path, stale_after=30)
        if lease.try_acquire():
            won.append(trial)
    print(" ".join(map(str, won)))
    time.sleep(0.5)  # hold every lease won until the others are done
    """
)


@pytest.mark.slow
def test_six_processes_taking_over_a_dead_holders_lease_get_one_holder(tmp_path: Path) -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()  # a pid that is gone
    trials = 40
    for trial in range(trials):
        (tmp_path / f"{trial}.lock").write_text(f"{os.uname().nodename} {dead.pid} dead\n")
    go = time.time() + 1.5
    racers = [
        subprocess.Popen(
            [sys.executable, "-c", _RACE, str(tmp_path), str(trials), str(go)],
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(6)
    ]
    time.sleep(max(0.0, go - time.time()) + 0.05)
    for trial in range(trials):
        (tmp_path / f"{trial}.go").touch()
        time.sleep(0.01)
    wins = [r.communicate(timeout=60)[0].split() for r in racers]
    holders = [sum(str(t) in w for w in wins) for t in range(trials)]
    assert holders == [1] * trials, holders


def test_a_commit_sha_that_is_a_path_is_refused_and_nothing_written_outside(
    hub: HubServer, tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    evil = "../../../../" + str(outside.relative_to("/")) + "/"
    evil = (evil + "x" * 40)[:40] if len(evil) < 40 else evil

    def lie(info: dict[str, object]) -> None:
        info["sha"] = evil

    hub.tamper(REPO, lie)
    try:
        with pytest.raises(DownloadError, match="not a 40-character hex hash"):
            _get(_downloader(hub, tmp_path), REPO, allow_patterns="config.json").wait(30)
    finally:
        hub.tamper(REPO, None)
    assert not outside.exists()
    assert not (tmp_path / "hf").exists() or not any((tmp_path / "hf").rglob("snapshots/*"))


@pytest.mark.parametrize("field", ["sha256", "blobId"])
def test_a_file_hash_that_is_a_path_is_refused_by_download_and_verify(
    hub: HubServer, repos: Path, tmp_path: Path, field: str
) -> None:
    """An LFS sha256 or a git blob id naming a file outside the cache: download would have
    linked the snapshot to it (same size), verify(repair=True) deleted it."""
    victim = tmp_path / "victim.bin"
    victim.write_bytes((repos / REPO / WEIGHTS).read_bytes()[: SIZE - 1] + b"!")
    blobs = repo_folder(tmp_path / "hf", REPO) / "blobs"
    path = os.path.relpath(victim, blobs)

    def lie(info: dict[str, object]) -> None:
        for sibling in info["siblings"]:  # type: ignore[attr-defined]
            if sibling["rfilename"] == WEIGHTS:
                if field == "sha256":
                    sibling["lfs"]["sha256"] = path
                else:
                    sibling.pop("lfs", None)
                    sibling["blobId"] = path

    d = _downloader(hub, tmp_path)
    hub.tamper(REPO, lie)
    try:
        with pytest.raises(DownloadError, match="hex hash"):
            _get(d, REPO, allow_patterns=WEIGHTS).wait(30)
        with pytest.raises(DownloadError, match="hex hash"):
            d.verify(REPO, repair=True)
    finally:
        hub.tamper(REPO, None)
    assert victim.stat().st_size == SIZE, "a file outside the cache was touched"
    snapshots = repo_folder(tmp_path / "hf", REPO) / "snapshots"
    assert not snapshots.exists() or not any(p.is_symlink() for p in snapshots.rglob("*"))


def test_a_local_dir_with_other_files_of_the_same_size_gets_the_right_ones(
    hub: HubServer, repos: Path, tmp_path: Path
) -> None:
    target = tmp_path / "model"
    d = _downloader(hub, tmp_path)
    _get(d, "nbmodels-test/model-v1", local_dir=target).wait(60)
    start = len(hub.requests)
    v2 = _get(d, "nbmodels-test/model-v2", local_dir=target)
    v2.wait(60)
    for name in ("config.json", "weights.safetensors", "tokenizer.json"):
        want = (repos / "nbmodels-test" / "model-v2" / name).read_bytes()
        assert (target / name).read_bytes() == want, f"{name} is still v1"
    fetched = {g.path.rsplit("/", 1)[-1] for g in hub.requests[start:] if "/resolve/" in g.path}  # type: ignore[attr-defined]
    assert fetched == {"config.json", "weights.safetensors", "tokenizer.json"}
    # the right files are known again without fetching; a file edited in place is not
    start = len(hub.requests)
    plan = d.download("nbmodels-test/model-v2", local_dir=target, dry_run=True)
    assert isinstance(plan, DownloadPlan) and all(p.cached for p in plan.files)
    weights = target / "weights.safetensors"
    weights.write_bytes(weights.read_bytes()[::-1])
    _get(d, "nbmodels-test/model-v2", local_dir=target).wait(60)
    assert [g.path.rsplit("/", 1)[-1] for g in hub.requests[start:] if "/resolve/" in g.path] == [  # type: ignore[attr-defined]
        "weights.safetensors"
    ]
    assert (
        weights.read_bytes() == (repos / "nbmodels-test/model-v2/weights.safetensors").read_bytes()
    )


def test_a_connection_that_drops_every_few_hundred_kb_still_finishes(
    hub: HubServer, repos: Path, tmp_path: Path
) -> None:
    """Hotel Wi-Fi: every answer drops after 256 KiB, 13 drops for the file; each retry
    resumes and moves forward, so the count of retries without progress never grows."""
    hub.add_fault("drop", path=WEIGHTS, at=256 * 1024, times=100)
    messages: list[str] = []
    d = _downloader(
        hub, tmp_path, retries=2, on_progress=[lambda p: messages.append(p.status_message)]
    )
    start = len(hub.requests)
    _get(d, REPO, allow_patterns=WEIGHTS).wait(60)
    blob = _blob_of(tmp_path, repos)
    assert _sha256(blob) == blob.name
    assert len(_gets(hub, WEIGHTS, start)) == SIZE // (256 * 1024) + 1
    assert any("dropped after" in m and "resuming from" in m for m in messages), messages[-5:]


def test_a_retry_after_of_an_hour_is_capped_and_said(
    hub: HubServer, repos: Path, tmp_path: Path
) -> None:
    hub.add_fault("status", path=WEIGHTS, status=429, retry_after=3600, times=1)
    messages: list[str] = []
    d = _downloader(
        hub,
        tmp_path,
        max_retry_after=0.2,
        on_progress=[lambda p: messages.append(p.status_message)],
    )
    assert Downloader(_settings(hub, tmp_path)).max_retry_after == 60.0  # the default cap
    t0 = time.monotonic()
    _get(d, REPO, allow_patterns=WEIGHTS).wait(30)
    assert time.monotonic() - t0 < 20
    assert any("asks to wait 3600 s" in m and "capped" in m for m in messages), messages


@pytest.mark.parametrize("status", [429, 500, 503])
def test_the_file_list_is_retried_like_the_files(
    hub: HubServer, repos: Path, tmp_path: Path, status: int
) -> None:
    hub.add_fault("status", route="info", path=REPO, status=status, retry_after=0, times=2)
    _get(_downloader(hub, tmp_path), REPO, allow_patterns=WEIGHTS).wait(60)
    blob = _blob_of(tmp_path, repos)
    assert _sha256(blob) == blob.name
    hub.add_fault("status", route="info", path=REPO, status=status, retry_after=0, times=100)
    with pytest.raises(NBModelsError, match=f"HTTP {status}"):
        _downloader(hub, tmp_path, retries=1).download(REPO, allow_patterns=WEIGHTS)


def test_a_repo_with_an_empty_file_downloads(hub: HubServer, tmp_path: Path) -> None:
    from huggingface_hub import snapshot_download

    task = _get(_downloader(hub, tmp_path), "nbmodels-test/empty-file")
    folder = task.result(30)
    assert (folder / "empty.txt").read_bytes() == b""
    assert (folder / "config.json").read_text() == "{}\n"
    theirs = snapshot_download(
        "nbmodels-test/empty-file", cache_dir=tmp_path / "theirs", endpoint=hub.url
    )
    assert (Path(theirs) / "empty.txt").read_bytes() == b""


def test_the_package_names_its_public_pieces_and_core_still_has_them() -> None:
    """``nbmodels.downloader`` re-exports the public names from the modules they live in, and
    every name other modules import from ``nbmodels.downloader.core`` is still there."""
    import nbmodels.downloader as package
    from nbmodels.downloader import core, http, lease, plan, task

    homes = {
        "Downloader": core,
        "download": core,
        "downloads": core,
        "verify": core,
        "downloaded_models": core,
        "default_downloader": core,
        "DownloadTask": task,
        "DownloadPlan": plan,
        "PlannedFile": plan,
        "RemoteFile": plan,
        "VerifyReport": plan,
        "safe_relative_path": plan,
        "repo_folder": plan,
        "PARTIAL_SUFFIX": plan,
        "LOCK_SUFFIX": plan,
        "Throttle": http,
        "Lease": lease,
    }
    for name, home in homes.items():
        assert getattr(package, name) is getattr(home, name), name
        assert getattr(core, name) is getattr(home, name), name
    assert sorted(package.__all__) == sorted(homes)


def test_importing_the_package_loads_no_heavy_library() -> None:
    code = (
        "import sys, nbmodels.downloader\n"
        "heavy = ('pandas', 'tqdm', 'huggingface_hub', 'ollama', 'httpx', 'torch', 'numpy')\n"
        "print([m for m in heavy if m in sys.modules])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
