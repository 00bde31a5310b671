"""A model lockfile for notebooks: pin every model a notebook uses, fetch exactly that later.

    >>> nbmodels.lock(["HuggingFaceTB/SmolLM2-135M-Instruct", "ollama:llama3.2:1b"])
    >>> nbmodels.sync()          # on another machine, in a fresh cache

``lock`` writes ``nbmodels.lock.yaml``: for each model its source, repository, the commit the
revision resolved to (an Ollama model: its manifest digest), every file with its size and
sha256, the stored configuration, and the versions of nbmodels, transformers and torch.
``sync`` brings exactly those files into this machine's caches (from the cache when they are
there already), checks each by its sha256, restores the configuration, and refuses, saying
which and why, when the pinned commit or a pinned file is gone upstream.

Why by hand: hermeto's ``huggingface.lock.yaml`` pins a commit but no file hashes, and
huggingface_hub's dry run reports no sha256 for files outside LFS; a notebook needs both to
be sure it runs on the very bytes it was written against.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import platform
import re
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..errors import DownloadError, LockfileError, ModelNotFoundError, VersionWarning
from ..settings import Settings, default_settings
from ..types import ModelConfiguration, PinnedFile

__all__ = [
    "DEFAULT_LOCKFILE",
    "LockedFile",
    "LockedModel",
    "Lockfile",
    "SyncReport",
    "lock",
    "sync",
]

DEFAULT_LOCKFILE = "nbmodels.lock.yaml"
FORMAT = 1


LockedFile = PinnedFile  # a lockfile's file: path, size, sha256


@dataclass(frozen=True)
class LockedModel:
    id: str  # as the notebook names it: "org/name" or "ollama:name:tag"
    source: str  # "huggingface" or "ollama"
    repository: str  # the Hub repo id, or the Ollama name
    revision: str  # what was asked for ("main", a tag)
    commit: str  # the commit it resolved to; an Ollama model: its manifest digest
    files: tuple[LockedFile, ...]
    configuration: dict[str, Any] | None = None

    @property
    def size(self) -> int:
        return sum(f.size for f in self.files)


@dataclass(frozen=True)
class Lockfile:
    models: tuple[LockedModel, ...]
    versions: dict[str, str] = field(default_factory=dict)
    created: str = ""
    path: Path | None = None

    def __repr__(self) -> str:
        where = f" at {self.path}" if self.path else ""
        return f"<Lockfile{where}: {len(self.models)} model(s), {sum(len(m.files) for m in self.models)} files>"

    def to_dict(self) -> dict[str, Any]:
        return {
            "nbmodels_lock": FORMAT,
            "created": self.created,
            "versions": dict(self.versions),
            "models": [
                {
                    "id": m.id, "source": m.source, "repository": m.repository,
                    "revision": m.revision, "commit": m.commit,
                    "files": [dataclasses.asdict(f) for f in m.files],
                    **({"configuration": m.configuration} if m.configuration else {}),
                }
                for m in self.models
            ],
        }  # fmt: skip

    @classmethod
    def read(cls, path: str | os.PathLike[str] = DEFAULT_LOCKFILE) -> Lockfile:
        import yaml

        p = Path(path)
        try:
            data = yaml.safe_load(p.read_text())
        except FileNotFoundError:
            raise LockfileError(
                f"No lockfile at {p}: write one with nbmodels.lock([...]) first."
            ) from None
        except yaml.YAMLError as exc:
            raise LockfileError(
                f"{p} is not a readable lockfile ({exc}); write it again with nbmodels.lock."
            ) from None
        if not isinstance(data, dict) or data.get("nbmodels_lock") != FORMAT:
            raise LockfileError(f"{p} is not an nbmodels lockfile of format {FORMAT}.")
        return _parse(data, p)

    def write(self, path: str | os.PathLike[str] = DEFAULT_LOCKFILE) -> Path:
        import yaml

        from ..files import atomic_write

        text = (
            "# nbmodels lockfile: the exact model files this notebook ran on.\n"
            "# nbmodels.sync() (or `nbmodels sync`) fetches them again, checked by sha256.\n"
        ) + yaml.safe_dump(self.to_dict(), sort_keys=False, allow_unicode=True)
        target = Path(path)
        atomic_write(target, text.encode())
        return target


# -- reading a lockfile: every field checked, a bad one named ------------------------------------
_HEX = re.compile(r"[0-9a-f]+")


def _bad(where: object, model: str | int | None, field: str, problem: str) -> LockfileError:
    """The error for one bad field: the file, the model (its id, or its place when the id
    itself is bad), the field, what is wrong with it."""
    who = ""
    if isinstance(model, str):
        who = f"model {model!r}: "
    elif model:
        who = f"model number {model}: "
    return LockfileError(
        f"{where}: {who}{field} {problem}. Correct it, or write the lockfile again with "
        "nbmodels.lock([...])."
    )


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _text(entry: dict[str, Any], key: str, where: object, model: str | int, *, empty: bool = False) -> str:  # fmt: skip
    value = entry.get(key)
    if value is None and empty:
        return ""
    if not isinstance(value, str) or not (value or empty):
        kind = "a string" if empty else "a non-empty string"
        problem = "is missing" if value is None else f"is {_shown(value)}, not {kind}"
        raise _bad(where, model, key, problem)
    return value


def _hex(value: object, lengths: tuple[int, ...]) -> bool:
    return isinstance(value, str) and len(value) in lengths and bool(_HEX.fullmatch(value))


def _locked_file(item: object, where: object, model: str, field: str, source: str) -> LockedFile:
    if not isinstance(item, dict):
        raise _bad(
            where, model, field, f"is {_shown(item)}, not a mapping of path, size and sha256"
        )
    path, size, sha = item.get("path"), item.get("size"), item.get("sha256")
    if not isinstance(path, str) or not path:
        raise _bad(where, model, f"{field}.path", "is missing" if path is None else f"is {_shown(path)}, not a file name")  # fmt: skip
    if source == "huggingface" and (
        path.startswith(("/", "\\")) or ".." in path.replace("\\", "/").split("/")
    ):
        raise _bad(where, model, f"{field}.path", f"is {path!r}, which points outside the model's folder")  # fmt: skip
    if isinstance(size, bool) or not isinstance(size, int) or not 0 <= size < 2**63:
        raise _bad(where, model, f"{field}.size", "is missing" if size is None else f"is {_shown(size)}, not a number of bytes (a whole number, 0 or more)")  # fmt: skip
    if not _hex(sha, (64,)):
        raise _bad(where, model, f"{field}.sha256", "is missing" if sha is None else f"is {_shown(sha)}, not a sha256 (64 hex digits)")  # fmt: skip
    return LockedFile(path, size, str(sha))


def _locked_configuration(value: object, where: object, model: str) -> ModelConfiguration:
    """The ModelConfiguration a lockfile's ``configuration`` stands for (its model id filled
    in when left out); LockfileError naming the field when it cannot be one."""
    from ..config.configuration import _configuration_from, validate
    from ..errors import NBModelsError

    if not isinstance(value, dict):
        raise _bad(where, model, "configuration", f"is {_shown(value)}, not a mapping of configuration fields")  # fmt: skip
    try:
        cfg = _configuration_from({"model_id": model, **value}, Path("configuration"))
    except (NBModelsError, TypeError, ValueError, AttributeError) as exc:
        text = str(exc).replace("configuration: ", "", 1).rstrip(".")
        raise _bad(where, model, "configuration", f"is not a usable configuration ({text})") from None  # fmt: skip
    wrong = [i for i in validate(cfg).errors if i.wrong_type]  # validate's words for each
    if wrong:
        first, *rest = wrong
        said = f"{first.message} ({first.suggestion})" + "".join(f"; configuration.{i.field} {i.message} ({i.suggestion})" for i in rest)  # fmt: skip
        raise _bad(where, model, f"configuration.{first.field}", said)
    return cfg


def _locked_model(entry: object, where: object, number: int) -> LockedModel:
    if not isinstance(entry, dict):
        raise _bad(where, None, f"models[{number}]", f"is {_shown(entry)}, not a mapping of id, source, repository, commit and files")  # fmt: skip
    model = _text(entry, "id", where, number)
    source = entry.get("source")
    if source not in ("huggingface", "ollama"):
        raise _bad(where, model, "source", f"is {_shown(source)}, not 'huggingface' or 'ollama'")
    repository = _text(entry, "repository", where, model)
    revision = _text(entry, "revision", where, model, empty=True)
    commit = entry.get("commit")
    if not _hex(commit, (40, 64)):
        raise _bad(where, model, "commit", "is missing" if commit is None else f"is {_shown(commit)}, not a commit (40 hex digits) or an Ollama manifest digest (64)")  # fmt: skip
    files = entry.get("files")
    if not isinstance(files, list):
        raise _bad(where, model, "files", "is missing" if files is None else f"is {_shown(files)}, not a list of files")  # fmt: skip
    locked = tuple(_locked_file(f, where, model, f"files[{i}]", str(source)) for i, f in enumerate(files, 1))  # fmt: skip
    configuration = entry.get("configuration")
    if configuration is not None:
        _locked_configuration(configuration, where, model)
    return LockedModel(model, str(source), repository, revision, str(commit), locked, configuration)


def _parse(data: dict[str, Any], where: Path) -> Lockfile:
    entries = data.get("models")
    if entries is None:
        entries = []
    if not isinstance(entries, list):
        raise _bad(where, None, "models", f"is {_shown(entries)}, not a list of models")
    versions = data.get("versions") or {}
    if not isinstance(versions, dict):
        raise _bad(where, None, "versions", f"is {_shown(versions)}, not a mapping of package to version")  # fmt: skip
    models = tuple(_locked_model(m, where, i) for i, m in enumerate(entries, 1))
    plain = {str(k): str(v) for k, v in versions.items()}
    return Lockfile(models, plain, str(data.get("created") or ""), where)


@dataclass
class SyncReport:
    """What :func:`sync` did, model by model: ``cached`` (every file already here and
    matching), ``fetched`` (downloaded, then checked)."""

    lockfile: Path | None
    models: dict[str, str] = field(default_factory=dict)
    files_checked: int = 0
    bytes_fetched: int = 0
    version_notes: list[str] = field(default_factory=list)

    def __repr__(self) -> str:
        states = ", ".join(f"{k}: {v}" for k, v in self.models.items())
        return f"<SyncReport {self.files_checked} files checked by sha256; {states}>"


# -- lock -----------------------------------------------------------------------------------------
def lock(
    models: str | Sequence[str],
    path: str | os.PathLike[str] | None = DEFAULT_LOCKFILE,
    *,
    revision: str | None = None,
    settings: Settings | None = None,
    progress: bool = False,
) -> Lockfile:
    """Pin ``models`` (Hub ids, ``ollama:<name>``) in a lockfile at ``path`` (``None``:
    return it unwritten). A model not yet downloaded is downloaded first (with the usual
    verification), so every file's sha256 is of bytes that were checked."""
    settings = settings or default_settings()
    ids = [models] if isinstance(models, str) else list(models)
    if not ids:
        raise LockfileError(
            "Nothing to lock: name the models the notebook uses, e.g. lock(['org/name'])."
        )
    locked = tuple(
        _lock_ollama(i, settings) if i.startswith("ollama:") else _lock_hub(i, revision, settings, progress)
        for i in ids
    )  # fmt: skip
    result = Lockfile(locked, _versions(), datetime.now(UTC).isoformat(timespec="seconds"))
    if path is not None:
        target = result.write(path)
        result = dataclasses.replace(result, path=target)
    return result


def _lock_hub(
    model_id: str, revision: str | None, settings: Settings, progress: bool
) -> LockedModel:
    from .core import Downloader, DownloadPlan

    downloader = Downloader(settings=settings)
    plan = downloader.download(model_id, revision=revision, dry_run=True)
    assert isinstance(plan, DownloadPlan)
    if not all(p.cached for p in plan.files):
        task = downloader.download(model_id, revision=plan.commit)
        assert not isinstance(task, DownloadPlan)
        task.wait(progress=progress)
        task.result()
    files = []
    for planned in plan.files:
        local = plan.target / planned.file.path
        digest = _sha256(local)
        if planned.file.sha256 and planned.file.sha256 != digest:
            raise LockfileError(f"{model_id}: {planned.file.path} in the cache does not match the Hub's sha256; run nbmodels.verify({model_id!r}, repair=True).")  # fmt: skip
        files.append(LockedFile(planned.file.path, local.stat().st_size, digest))
    return LockedModel(model_id, "huggingface", model_id, revision or "main", plan.commit,
                       tuple(files), _configuration(model_id, settings))  # fmt: skip


def _lock_ollama(model_id: str, settings: Settings) -> LockedModel:
    from ..storage.ollama_store import OllamaStore

    name = model_id.removeprefix("ollama:")
    try:
        stored = OllamaStore(settings.ollama_models).get(name)
    except (ModelNotFoundError, OSError) as exc:
        raise LockfileError(f"{model_id} is not in Ollama's store ({settings.ollama_models}): pull it first (nbmodels.download({name!r}, source='ollama')).") from exc  # fmt: skip
    files = [
        LockedFile(str(layer.get("mediaType", "")), int(layer.get("size", 0)), str(layer["digest"]).removeprefix("sha256:"))
        for layer in [stored.manifest.get("config") or {}, *stored.layers]
        if layer.get("digest")
    ]  # fmt: skip
    return LockedModel(model_id, "ollama", stored.name, stored.tag, stored.digest, tuple(files),
                       _configuration(model_id, settings))  # fmt: skip


def _configuration(model_id: str, settings: Settings) -> dict[str, Any] | None:
    from ..config.configuration import configuration_dict, get_configuration

    cfg = get_configuration(model_id, settings)
    return configuration_dict(cfg) if cfg is not None else None


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version()}
    for name in (
        "nbmodels",
        "transformers",
        "torch",
        "huggingface_hub",
        "accelerate",
        "bitsandbytes",
    ):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            continue
    return out


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


# -- sync -----------------------------------------------------------------------------------------
def sync(
    path: str | os.PathLike[str] | Lockfile = DEFAULT_LOCKFILE,
    *,
    settings: Settings | None = None,
    progress: bool = False,
    on_model: Callable[[str, str], None] | None = None,
) -> SyncReport:
    """Bring this machine to the lockfile: every pinned file, by its sha256, in the standard
    caches. Raises :class:`~nbmodels.errors.LockfileError` naming the model and the file when
    the pinned commit or a file is gone upstream, or a fetched file's hash differs (that file
    is removed again: nothing unverified stays in the cache)."""
    from ..config.configuration import save_configuration

    settings = settings or default_settings()
    locked = path if isinstance(path, Lockfile) else Lockfile.read(path)
    where = locked.path or "the lockfile"
    configurations = {  # checked before anything is fetched
        m.id: _locked_configuration(m.configuration, where, m.id)
        for m in locked.models
        if m.configuration
    }
    report = SyncReport(locked.path)
    here = _versions()
    for name in ("nbmodels", "transformers", "torch"):
        want, have = locked.versions.get(name), here.get(name)
        if want and have and want != have:
            report.version_notes.append(f"{name} {have} here, {want} in the lockfile")
    if report.version_notes:
        warnings.warn("versions differ from the lockfile's: " + "; ".join(report.version_notes)
                      + " (greedy output may differ in the last digits)", VersionWarning, stacklevel=2)  # fmt: skip
    for m in locked.models:
        state = (
            _sync_ollama(m, settings, report)
            if m.source == "ollama"
            else _sync_hub(m, settings, report, progress)
        )
        report.models[m.id] = state
        if m.id in configurations:
            save_configuration(configurations[m.id], settings=settings)
        if on_model is not None:
            on_model(m.id, state)
    return report


def _check_local(root: Path, files: Sequence[LockedFile]) -> list[LockedFile]:
    """The pinned files not present under ``root`` with their size and sha256."""
    wrong = []
    for f in files:
        p = root / f.path
        if not p.is_file() or p.stat().st_size != f.size or _sha256(p) != f.sha256:
            wrong.append(f)
    return wrong


def _sync_hub(m: LockedModel, settings: Settings, report: SyncReport, progress: bool) -> str:
    from .core import Downloader, DownloadPlan

    folder = (
        Path(settings.hf_cache)
        / ("models--" + m.repository.replace("/", "--"))
        / "snapshots"
        / m.commit
    )
    missing = _check_local(folder, m.files)
    report.files_checked += len(m.files)
    if not missing:
        return "cached"
    downloader = Downloader(settings=settings)
    try:
        plan = downloader.download(m.repository, revision=m.commit, dry_run=True)
    except (ModelNotFoundError, DownloadError) as exc:
        raise LockfileError(
            f"{m.id}: the pinned commit {m.commit[:12]} is gone upstream ({exc}). The repository "
            "was renamed, deleted or its history rewritten. Nothing was fetched. To move on, "
            f"lock the model again at its current revision: nbmodels.lock([{m.id!r}])."
        ) from exc
    assert isinstance(plan, DownloadPlan)
    upstream = {p.file.path: p.file for p in plan.files}
    gone = [f.path for f in missing if f.path not in upstream]
    changed = [f.path for f in missing if f.path in upstream and (upstream[f.path].size != f.size or (upstream[f.path].sha256 not in (None, f.sha256)))]  # fmt: skip
    if gone or changed:
        said = "; ".join(
            ([f"gone upstream: {', '.join(gone)}"] if gone else [])
            + ([f"different upstream: {', '.join(changed)}"] if changed else [])
        )  # fmt: skip
        raise LockfileError(f"{m.id} at {m.commit[:12]}: {said}. Nothing was fetched; lock it again to pin what the repository holds now.")  # fmt: skip
    task = downloader.download(
        m.repository, revision=m.commit, allow_patterns=[f.path for f in missing]
    )
    assert not isinstance(task, DownloadPlan)
    task.wait(progress=progress)
    task.result()
    still = _check_local(folder, missing)
    if still:
        for f in still:  # nothing unverified stays in the cache
            (folder / f.path).unlink(missing_ok=True)
        raise LockfileError(f"{m.id}: {', '.join(f.path for f in still)} arrived with another sha256 than the lockfile's; removed. The file changed upstream under the same commit.")  # fmt: skip
    report.bytes_fetched += sum(f.size for f in missing)
    return "fetched"


def _sync_ollama(m: LockedModel, settings: Settings, report: SyncReport) -> str:
    from ..storage.ollama_store import OllamaStore
    from .core import Downloader, DownloadPlan

    name = m.id.removeprefix("ollama:")
    store = OllamaStore(settings.ollama_models)
    report.files_checked += len(m.files)

    def have() -> bool:
        try:
            stored = store.get(name)
        except (ModelNotFoundError, OSError):
            return False
        blobs = stored.blobs_dir
        return stored.digest == m.commit and not _check_local(blobs, [dataclasses.replace(f, path="sha256-" + f.sha256) for f in m.files])  # fmt: skip

    if have():
        return "cached"
    downloader = Downloader(settings=settings)
    try:
        plan = downloader.download(name, source="ollama", via="registry", dry_run=True)
    except (ModelNotFoundError, DownloadError) as exc:
        raise LockfileError(f"{m.id} is gone from the registry ({exc}); nothing was fetched. Lock another tag.") from exc  # fmt: skip
    assert isinstance(plan, DownloadPlan)
    if plan.commit != m.commit:  # the registry's manifest digest: what the tag points at now
        raise LockfileError(f"{m.id}: the tag now points at manifest {plan.commit[:12]}, not the pinned {m.commit[:12]} (re-quantized or retagged upstream); nothing was fetched. Lock it again to move to it.")  # fmt: skip
    task = downloader.download(name, source="ollama", via="registry")
    assert not isinstance(task, DownloadPlan)
    task.wait()
    task.result()
    if not have():
        raise LockfileError(
            f"{m.id}: what the registry sent does not match the lockfile's digests."
        )
    report.bytes_fetched += m.size
    return "fetched"
