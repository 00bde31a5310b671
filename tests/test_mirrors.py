"""Download mirrors: each file's bytes from the first source that has them right.

Three real hubs serve the same repository (the primary, whose listing says what each file
is, and two mirrors); a team's cache folder is a fourth kind of source. Faults make a
mirror serve wrong bytes or lack a file; every check is made on the disk (sha256 of each
blob) and on each hub's request log (which one the bytes came from).
"""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from nbmodels import Settings
from nbmodels.demo.hub import HubServer
from nbmodels.downloader.core import Downloader, DownloadTask, repo_folder
from nbmodels.downloader.mirrors import mirror_report, parse_mirrors
from nbmodels.errors import ChecksumMismatchError, ConfigurationError, DownloadError, MirrorWarning

REPO = "nbmodels-test/mirrored"
WEIGHTS = "weights.safetensors"
FILES = (WEIGHTS, "config.json", "tokenizer.json")
TOKEN = "hf_MirrorSecretToken42"


@pytest.fixture(scope="module")
def repos(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("mirror-repos")
    repo = root / REPO
    repo.mkdir(parents=True)
    (repo / WEIGHTS).write_bytes(os.urandom(1_500_000))  # an LFS file: checked by sha256
    (repo / "config.json").write_text('{"model_type": "llama"}\n')  # git blob sha1
    (repo / "tokenizer.json").write_text('{"version": "1.0"}\n')
    return root


@pytest.fixture(scope="module")
def hubs(repos: Path) -> Iterator[tuple[HubServer, HubServer, HubServer]]:
    """The primary and two mirrors, serving the same repository (the same commit)."""
    with HubServer(repos) as primary, HubServer(repos) as one, HubServer(repos) as two:
        yield primary, one, two


@pytest.fixture(autouse=True)
def _fresh(hubs: tuple[HubServer, HubServer, HubServer]) -> Iterator[None]:
    for hub in hubs:
        hub.clear_faults()
        hub.clear_requests()
    yield
    for hub in hubs:
        hub.clear_faults()


def _gets(hub: HubServer) -> list[str]:
    """The files ``hub`` was asked for (one entry per GET of a file)."""
    return [r.path.rsplit("/", 1)[-1] for r in hub.requests if r.method == "GET" and "/resolve/" in r.path]  # fmt: skip


def _downloader(primary: HubServer, tmp_path: Path, name: str = "home", **kw: object) -> Downloader:
    settings = Settings(home=tmp_path / name, hf_endpoint=primary.url, hf_cache=tmp_path / name / "hf",
                        hf_token=TOKEN)  # fmt: skip
    kw.setdefault("backoff", 0.01)
    kw.setdefault("max_concurrent_downloads", 1)  # one file at a time: the request counts are exact
    return Downloader(settings, **kw)  # type: ignore[arg-type]


def _run(d: Downloader, **kw: object) -> DownloadTask:
    task = d.download(REPO, **kw)  # type: ignore[arg-type]
    assert isinstance(task, DownloadTask)
    return task.wait(60)


def _hashes(d: Downloader) -> dict[str, str]:
    folder = repo_folder(d.settings.hf_cache, REPO) / "snapshots"
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.rglob("*") if p.is_file()}  # fmt: skip


def _truth(repos: Path) -> dict[str, str]:
    return {n: hashlib.sha256((repos / REPO / n).read_bytes()).hexdigest() for n in FILES}


@pytest.mark.parametrize("primary_state", ["good", "down"])
def test_a_mirror_serving_wrong_bytes_is_skipped_and_named(
    hubs: tuple[HubServer, HubServer, HubServer], repos: Path, tmp_path: Path, primary_state: str
) -> None:
    primary, one, two = hubs
    one.add_fault("corrupt", at=10, times=100)  # every file it serves has a byte flipped
    if primary_state == "down":
        primary.add_fault("status", status=503, times=100)  # its files, not its listing
    d = _downloader(primary, tmp_path, mirrors=[one.url, two.url])
    with pytest.warns(MirrorWarning, match=rf"{one.url}.*do not match.*skipped") as said:
        task = _run(d)
    assert len(said) == 1  # said once: the mirror is skipped for the rest of the download
    assert _hashes(d) == _truth(repos)
    report = mirror_report(task)
    assert report is not None and set(report.skipped) == {one.url}
    assert report.served == dict.fromkeys(FILES, two.url)
    assert len(_gets(one)) == 1  # asked once, then skipped
    assert sorted(_gets(two)) == sorted(FILES) and _gets(primary) == []
    # the token went to the primary's host only (its listing), never to a mirror
    assert not any(r.authorized for r in one.requests + two.requests)
    assert any(r.authorized for r in primary.requests)


def test_a_mirror_without_a_file_passes_it_to_the_next(
    hubs: tuple[HubServer, HubServer, HubServer], repos: Path, tmp_path: Path
) -> None:
    primary, one, two = hubs
    one.add_fault("status", status=404, path=WEIGHTS, times=10)
    messages: list[str] = []
    d = _downloader(primary, tmp_path, mirrors=f"{one.url}, {two.url}", on_progress=[lambda p: messages.append(p.status_message)])  # fmt: skip
    task = _run(d)  # no warning: a mirror may lack a file
    assert _hashes(d) == _truth(repos)
    report = mirror_report(task)
    assert report is not None and report.skipped == {}
    assert report.served == {WEIGHTS: two.url, "config.json": one.url, "tokenizer.json": one.url}
    assert _gets(two) == [WEIGHTS] and _gets(primary) == []
    assert any(f"{WEIGHTS}: not on {one.url}; trying {two.url}" in m for m in messages)


def test_a_team_cache_folder_is_a_mirror(
    hubs: tuple[HubServer, HubServer, HubServer], repos: Path, tmp_path: Path
) -> None:
    primary, _one, two = hubs
    team = _downloader(primary, tmp_path, "team")
    _run(team)
    primary.clear_requests()
    team_cache = Path(team.settings.hf_cache)
    for entry in (str(team_cache), f"file://{team_cache}"):
        d = _downloader(primary, tmp_path, f"member-{len(entry)}", mirrors=[entry])
        task = _run(d)
        assert _hashes(d) == _truth(repos) and _gets(primary) == []
        report = mirror_report(task)
        assert report is not None and set(report.served.values()) == {str(team_cache)}
        ours = repo_folder(d.settings.hf_cache, REPO) / "blobs"
        theirs = repo_folder(team_cache, REPO) / "blobs"
        for blob in theirs.iterdir():  # the same file system: hard links, not copies
            assert (ours / blob.name).stat().st_ino == blob.stat().st_ino
    # a damaged team cache: its blob is named, left as it is, and the file comes from a hub
    damaged = tmp_path / "damaged"
    shutil.copytree(team_cache, damaged, symlinks=True)
    weights = next(p for p in (repo_folder(damaged, REPO) / "blobs").iterdir() if p.stat().st_size > 1_000_000)  # fmt: skip
    data = bytearray(weights.read_bytes())
    data[1234] ^= 0xFF
    weights.write_bytes(bytes(data))
    d = _downloader(primary, tmp_path, "member-3", mirrors=[str(damaged), two.url])
    with pytest.warns(MirrorWarning, match=str(damaged)):
        task = _run(d)
    assert _hashes(d) == _truth(repos)
    assert weights.read_bytes() == bytes(data)  # the team's file was not touched
    report = mirror_report(task)  # skipped from then on: the rest came from the next source
    assert report is not None and set(report.skipped) == {str(damaged)}
    assert report.served == dict.fromkeys(FILES, two.url) and sorted(_gets(two)) == sorted(FILES)


def test_when_every_source_fails_the_error_names_each(
    hubs: tuple[HubServer, HubServer, HubServer], tmp_path: Path
) -> None:
    primary, one, two = hubs
    one.add_fault("corrupt", at=3, path=WEIGHTS, times=10)
    two.add_fault("status", status=404, path=WEIGHTS, times=10)
    primary.add_fault("corrupt", at=5, path=WEIGHTS, times=10)
    d = _downloader(primary, tmp_path, mirrors=[one.url, two.url])
    task = d.download(REPO)
    assert isinstance(task, DownloadTask)
    with pytest.warns(MirrorWarning) as said, pytest.raises(DownloadError) as info:
        task.wait(60)
    text = str(info.value)
    assert f"{one.url}: served {WEIGHTS}" in text and f"{two.url}: does not have it" in text
    assert f"{primary.url} (the primary endpoint): served {WEIGHTS}" in text
    assert not isinstance(info.value, ChecksumMismatchError)  # not every source lied
    assert {str(w.message).split()[2] for w in said} == {one.url, primary.url}
    blobs = repo_folder(d.settings.hf_cache, REPO) / "blobs"
    assert not any(p.stat().st_size == 1_500_000 for p in blobs.iterdir() if p.is_file())
    assert not (repo_folder(d.settings.hf_cache, REPO) / "snapshots").exists()
    # every source serving wrong bytes: a checksum error
    two.clear_faults()
    two.add_fault("corrupt", at=7, path=WEIGHTS, times=10)
    task = _downloader(primary, tmp_path, "again", mirrors=[one.url, two.url]).download(REPO)
    with pytest.warns(MirrorWarning), pytest.raises(ChecksumMismatchError):
        task.wait(60)  # type: ignore[union-attr]


def test_mirror_lists_are_checked_and_the_primary_comes_last() -> None:
    primary = "https://huggingface.co"
    got = parse_mirrors("http://olah:8090/, /mnt/team/hub, file:///srv/hf", primary)
    assert [(m.kind, m.location) for m in got] == [
        ("http", "http://olah:8090"), ("folder", "/mnt/team/hub"), ("folder", "/srv/hf"), ("http", primary),
    ]  # fmt: skip
    assert [m.primary for m in parse_mirrors([primary + "/", "/x"], primary)] == [True, False]
    assert parse_mirrors(None, primary) == () and parse_mirrors("", primary) == ()
    with pytest.raises(ConfigurationError, match="neither an http"):
        parse_mirrors(["ftp://mirror/x"], primary)
    with pytest.raises(ConfigurationError, match="credentials"):
        Downloader(Settings(), mirrors=["https://user:secret@mirror.example"])
