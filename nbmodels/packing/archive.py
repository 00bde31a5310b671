"""One file to carry models to a machine without a network: :func:`pack` and :func:`unpack`.

    >>> nbmodels.pack(["nbmodels-demo/tiny-llama-chat", "ollama:tinyllama-chat"], "models.tar")
    >>> nbmodels.unpack("models.tar")          # on the other machine, network off

**The archive** is a single *uncompressed* tar of an OCI image layout
(:mod:`nbmodels.packing.oci`): weights (safetensors, GGUF) are already dense and do not
compress, so compression would cost minutes of CPU for nothing. It is written to a
temporary name beside the target and renamed at the end: a pack that fails (a file missing,
a blob of this home's cache that does not match its hash, a full disk) leaves no half
archive. Every file is hashed as it is written, against the name the cache gives it.

**Unpacking** reads the archive with :mod:`tarfile`, refusing anything a pack does not
hold: a member that is a link or a device, a name that is absolute or climbs out
(``../x``), a name other than ``oci-layout``, ``index.json`` or ``blobs/sha256/<hex>``, a
member the archive is too short for. The manifests and the lockfile are checked against
each other, then every blob is read once, hashed and staged next to where it goes; only when
*every* blob matched its digest is anything installed (:mod:`nbmodels.packing.install`). A
truncated or tampered archive is refused with a :class:`~nbmodels.packing.PackError` naming
the model and the file, and the staged bytes are removed: nothing is installed.

Blobs are read by their offset in the archive (``tarfile`` finds the members; their bytes
are read straight into one reused buffer, which ``tarfile``'s own reader copies twice).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import tarfile
import tempfile
import time
import uuid
import warnings
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from ..errors import NBModelsError, RegistryWarning
from ..files import atomic_path, ensure_dir, storage_error
from ..settings import Settings, default_settings
from .collect import collect, home_registry
from .oci import (
    MAX_JSON,
    NB_MODEL,
    OCI_LAYOUT,
    PackedModel,
    PackError,
    git_blob_sha1,
    index_json,
    json_bytes,
    model_manifest,
    ollama_entry,
    pack_record,
    parse_json,
    read_index,
    read_model,
    read_pack_record,
)
from .reports import PackProgress, PackReport, ProgressCallback, UnpackReport

if TYPE_CHECKING:  # pragma: no cover
    from ..downloader.lockfile import Lockfile
    from ..storage.registry import Registry

__all__ = ["pack", "unpack"]

_CHUNK = 8 << 20
_BLOB = re.compile(r"blobs/sha256/([0-9a-f]{64})")


# -- pack ----------------------------------------------------------------------------------------
def _stream(read_into: Any, write: Any, hashes: list[Any], size: int, buffers: tuple[bytearray, bytearray], pool: Any, tell: Any) -> int:  # fmt: skip
    """Copy up to ``size`` bytes through two reused buffers: each buffer read is fed to every
    hash of ``hashes`` in a second thread (``hashlib`` releases the GIL on large buffers)
    while it is written (``write`` None: only hashed). Returns the bytes copied (fewer when
    the source ended first)."""

    def feed(view: memoryview) -> None:
        for h in hashes:
            h.update(view)

    pending: Any = None
    left, k = size, 0
    try:
        while left:
            view = memoryview(buffers[k])[: min(len(buffers[k]), left)]
            n = read_into(view)
            if not n:
                break
            if pending is not None:
                pending.result()  # the other buffer is hashed: in order, and free again
            pending = pool.submit(feed, view[:n])
            if write is not None:
                write(view[:n])
            left, k = left - n, 1 - k
            tell(n)
    finally:
        if pending is not None:
            pending.result()
    return size - left


class _TarWriter:
    """An uncompressed tar written member by member: each header is ``tarfile``'s own
    (:meth:`tarfile.TarInfo.tobuf`, PAX), the data streamed through two reused buffers while
    a second thread hashes the one just read (``hashlib`` releases the GIL on large
    buffers). ``TarFile.addfile`` would copy every 8 MiB chunk into a fresh ``bytes`` and
    hash in line: measured, that made packing about twice as slow."""

    def __init__(self, fh: Any, pool: Any) -> None:
        self.fh, self.pool = fh, pool
        self.buffers = (bytearray(_CHUNK), bytearray(_CHUNK))

    def _header(self, name: str, size: int) -> None:
        info = tarfile.TarInfo(name)
        info.size, info.mode, info.mtime = size, 0o644, 0  # nothing of this machine in the pack
        self.fh.write(info.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape"))

    def _pad(self, size: int) -> None:
        if size % tarfile.BLOCKSIZE:
            self.fh.write(tarfile.NUL * (tarfile.BLOCKSIZE - size % tarfile.BLOCKSIZE))

    def add(self, name: str, data: bytes) -> None:
        self._header(name, len(data))
        self.fh.write(data)
        self._pad(len(data))

    def add_file(self, name: str, source: Path, size: int, tell: Any) -> str | None:
        """``source``'s first ``size`` bytes as ``name``; their sha256 (None: the file is
        shorter than it was)."""
        self._header(name, size)
        sha = hashlib.sha256()
        with open(source, "rb", buffering=0) as src:
            copied = _stream(src.readinto, self.fh.write, [sha], size, self.buffers, self.pool, tell)  # fmt: skip
        if copied != size:
            return None
        self._pad(size)
        return sha.hexdigest()

    def close(self) -> None:
        """The end of the archive: two zero blocks, then zeros to a whole record."""
        self.fh.write(tarfile.NUL * (2 * tarfile.BLOCKSIZE))
        over = self.fh.tell() % tarfile.RECORDSIZE
        if over:
            self.fh.write(tarfile.NUL * (tarfile.RECORDSIZE - over))


def pack(
    models: str | Sequence[str],
    path: str | os.PathLike[str],
    *,
    settings: Settings | None = None,
    registry: Registry | None = None,
    progress: ProgressCallback | None = None,
) -> PackReport:
    """Write ``models`` (registry references, Hub ids in the HF cache, ``ollama:<name>``)
    into one archive at ``path``, with the lockfile and this home's registry records and
    stored configurations. A model with a file missing is refused (PackError naming every
    missing file) before anything is written; a file whose bytes do not match the hash the
    cache names it by is refused too, and no archive is left."""
    from ..downloader.lockfile import Lockfile, _versions

    start = time.monotonic()
    settings = settings or default_settings()
    target = Path(path)
    if target.is_dir():
        raise PackError(
            f"{target} is a folder: name the archive file, e.g. {target / 'models.tar'}."
        )
    found = collect(models, settings, home_registry(settings, registry))
    lock = Lockfile(tuple(c.locked for c in found), _versions(),
                    datetime.now(UTC).isoformat(timespec="seconds"))  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:  # the lockfile's own writer, its own header
        lock_bytes = lock.write(Path(tmp) / "nbmodels.lock.yaml").read_bytes()
    registry_bytes = json_bytes({"entries": [c.record for c in found if c.record]})
    documents: dict[str, bytes] = {}
    entries = []
    for c in found:
        if c.model.source == "ollama":
            entries.append(ollama_entry(c.model))
            documents[c.model.commit] = c.model.manifest
        else:
            manifest, config, entry = model_manifest(c.model)
            entries.append(entry)
            for data in (manifest, config):
                documents[hashlib.sha256(data).hexdigest()] = data
    record, entry = pack_record(lock_bytes, registry_bytes)
    entries.append(entry)
    for data in (record, lock_bytes, registry_bytes):
        documents[hashlib.sha256(data).hexdigest()] = data
    blobs: dict[str, tuple[Path, int, str]] = {}  # sha256 -> (file, size, what it is)
    for c in found:
        for x in c.model.layers:
            if x.digest not in blobs and x.digest not in documents:
                blobs[x.digest] = (c.files[x.digest], x.size, f"{c.model.id}: {x.path}")
    total = sum(size for _, size, _ in blobs.values())
    done = [0]
    with atomic_path(target) as tmp_path, ThreadPoolExecutor(1, "nbmodels-pack-hash") as pool:
        with open(tmp_path, "wb") as fh:
            tar = _TarWriter(fh, pool)
            tar.add("oci-layout", OCI_LAYOUT)
            tar.add("index.json", index_json(entries))
            for digest, data in documents.items():
                tar.add(f"blobs/sha256/{digest}", data)
            for digest, (source, size, what) in blobs.items():

                def tell(n: int, what: str = what) -> None:
                    done[0] += n
                    if progress is not None:
                        progress(PackProgress("writing", what, done[0], total))

                _add_blob(tar, digest, source, size, what, tell)
            tar.close()
        size = tmp_path.stat().st_size
    files = sum(len(c.model.layers) for c in found)
    return PackReport(target, tuple(c.model.id for c in found), files, len(blobs) + len(documents),
                      size, time.monotonic() - start)  # fmt: skip


def _add_blob(tar: _TarWriter, digest: str, source: Path, size: int, what: str, tell: Any) -> None:  # fmt: skip
    try:
        got = tar.add_file(f"blobs/sha256/{digest}", source, size, tell)
    except OSError as exc:
        raise PackError(f"{what}: cannot be read from {source} ({exc}); nothing was written.") from None  # fmt: skip
    if got is None:
        raise PackError(f"{what}: {source} is shorter than it was a moment ago (changed while packing); nothing was written.")  # fmt: skip
    if got != digest:
        raise PackError(f"{what}: its bytes in this home ({source}) do not match the sha256 the cache names it by ({digest[:12]}...): the cache is damaged, so nothing was written. Run nbmodels.verify(..., repair=True), download it again and pack again.")  # fmt: skip


# -- reading an archive safely ---------------------------------------------------------------------
class _Archive:
    """A pack's members, every one checked to be a plain file of the layout (see the module)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self.size = path.stat().st_size
            self.fh = open(path, "rb")  # noqa: SIM115 - closed by close()
        except FileNotFoundError:
            raise PackError(f"No pack at {path}: check the path (nbmodels.pack writes one).") from None  # fmt: skip
        except OSError as exc:
            raise storage_error(path, exc, what="read") from None
        self.members: dict[str, tarfile.TarInfo] = {}
        self.truncated = False
        self.pool = ThreadPoolExecutor(1, "nbmodels-unpack-hash")
        self._pair: tuple[bytearray, bytearray] | None = None
        try:
            self._list()
        except BaseException:
            self.close()
            raise

    def _list(self) -> None:
        try:
            tar = tarfile.TarFile(fileobj=self.fh, mode="r")  # plain tar: no compression
        except (tarfile.TarError, EOFError) as exc:
            raise PackError(f"{self.path} is not a pack: not an uncompressed tar file ({exc}).") from None  # fmt: skip
        try:
            while True:
                member = tar.next()
                if member is None:
                    break
                self._check(member)
        except (tarfile.ReadError, EOFError):
            self.truncated = True  # the members read so far stand; the rest is gone
        except tarfile.TarError as exc:
            raise PackError(f"{self.path} is damaged ({exc}): pack the models again.") from None

    def _check(self, m: tarfile.TarInfo) -> None:
        name = m.name
        parts = PurePosixPath(name).parts
        if name.startswith("/") or "\\" in name or ".." in parts or "\x00" in name:
            raise PackError(f"{self.path}: the member {name!r} points outside the pack: refused, nothing was installed.")  # fmt: skip
        if m.isdir() and name.rstrip("/") in ("blobs", "blobs/sha256"):
            return
        if not m.isreg() or m.issparse():
            kind = "a link" if m.issym() or m.islnk() else "not a plain file"
            raise PackError(f"{self.path}: the member {name!r} is {kind}; a pack holds plain files only: refused, nothing was installed.")  # fmt: skip
        if name not in ("oci-layout", "index.json") and not _BLOB.fullmatch(name):
            raise PackError(f"{self.path}: the member {name!r} is not part of an OCI layout: refused, nothing was installed.")  # fmt: skip
        if name in self.members:
            raise PackError(f"{self.path}: the member {name!r} is there twice: refused, nothing was installed.")  # fmt: skip
        self.members[name] = m

    def close(self) -> None:
        self.fh.close()
        self.pool.shutdown()

    def _buffers(self) -> tuple[bytearray, bytearray]:
        if self._pair is None:
            self._pair = (bytearray(_CHUNK), bytearray(_CHUNK))
        return self._pair

    def member(self, name: str, size: int | None, what: str) -> tarfile.TarInfo:
        """The member ``name`` whose bytes are all in the archive (and ``size`` long)."""
        m = self.members.get(name)
        if m is None:
            why = "the archive is truncated" if self.truncated else "it is not in the pack"
            raise PackError(f"{self.path}: {what} is missing ({why}): refused, nothing was installed.")  # fmt: skip
        if m.offset_data + m.size > self.size:
            raise PackError(f"{self.path} is truncated in {what} ({self.size - m.offset_data} of {m.size} bytes): refused, nothing was installed. Copy the pack again.")  # fmt: skip
        if size is not None and m.size != size:
            raise PackError(f"{self.path}: {what} is {m.size} bytes, its manifest says {size}: the pack was changed; refused, nothing was installed.")  # fmt: skip
        return m

    def check(self, blobs: dict[str, tuple[int, str, str | None]]) -> None:
        """Every blob of ``blobs`` whole in the archive; else one PackError naming the file
        cut short and those missing."""
        cut, absent = [], []
        for digest, (_size, what, _git) in blobs.items():
            m = self.members.get(f"blobs/sha256/{digest}")
            if m is None:
                absent.append(what)
            elif m.offset_data + m.size > self.size:
                cut.append(f"{what} ({max(0, self.size - m.offset_data)} of {m.size} bytes)")
        if not cut and not absent:
            return
        said = [f"it is truncated in {', '.join(cut)}"] if cut else []
        if absent:
            why = " (the archive is cut short)" if cut or self.truncated else ""
            more = f" and {len(absent) - 5} more" if len(absent) > 5 else ""
            said.append(f"missing{why}: {', '.join(absent[:5])}{more}")
        raise PackError(f"{self.path}: {'; '.join(said)}. Refused, nothing was installed: copy the pack again.")  # fmt: skip

    def document(self, name: str, digest: str | None, size: int | None, what: str) -> bytes:
        """A small member (a manifest, the lockfile), checked against ``digest``."""
        m = self.member(name, size, what)
        if m.size > MAX_JSON:
            raise PackError(f"{self.path}: {what} is {m.size} bytes, too big for what it is.")
        self.fh.seek(m.offset_data)
        data = self.fh.read(m.size)
        if digest is not None and hashlib.sha256(data).hexdigest() != digest:
            raise PackError(f"{self.path}: {what} does not match its digest: the pack was changed or damaged; refused, nothing was installed.")  # fmt: skip
        return data

    def stage(self, digest: str, size: int, what: str, out: Path | None, git: str | None, tell: Any) -> None:  # fmt: skip
        """Read one blob, hash it (and its git blob id when ``git`` names one), write it to
        ``out`` (None: only checked); PackError naming ``what`` when it does not match."""
        m = self.member(f"blobs/sha256/{digest}", size, what)
        sha, sha1 = hashlib.sha256(), git_blob_sha1(size) if git else None
        self.fh.seek(m.offset_data)
        sink = open(out, "wb") if out is not None else None  # noqa: SIM115 - closed below
        try:
            hashes = [sha] if sha1 is None else [sha, sha1]
            write = sink.write if sink is not None else None
            if _stream(self.fh.readinto, write, hashes, size, self._buffers(), self.pool, tell) != size:  # fmt: skip
                raise PackError(f"{self.path} is truncated in {what}: refused, nothing was installed.")  # fmt: skip
        except OSError as exc:
            raise storage_error(out or self.path, exc) from None
        finally:
            if sink is not None:
                sink.close()
        if sha.hexdigest() != digest or (sha1 is not None and sha1.hexdigest() != git):
            raise PackError(f"{self.path}: {what} does not match its digest (sha256:{digest[:12]}...): the pack was changed or damaged; refused, nothing was installed. Copy the pack again, or pack it again on the first machine.")  # fmt: skip


# -- unpack --------------------------------------------------------------------------------------
@dataclass
class _Read:
    """What a pack holds, checked: its models, the lockfile, the registry records, and every
    blob with what it is (for messages) and the git blob id a small file must also have."""

    models: list[PackedModel]
    lock: Lockfile
    lock_bytes: bytes
    records: list[dict[str, Any]]
    blobs: dict[str, tuple[int, str, str | None]]  # sha256 -> (size, what, git blob id)
    documents: set[str]  # the manifests and records read (and checked) already


def _read(archive: _Archive) -> _Read:
    from ..downloader.lockfile import Lockfile
    from ..errors import LockfileError

    layout = archive.document("oci-layout", None, None, "oci-layout")
    if b"imageLayoutVersion" not in layout:
        raise PackError(f"{archive.path}: oci-layout is not an OCI layout marker.")
    models, record, documents = [], None, set()
    for kind, digest, size, notes in read_index(archive.document("index.json", None, None, "index.json")):  # fmt: skip
        what = f"the manifest of {notes.get(NB_MODEL) or 'the pack record'}"
        data = archive.document(f"blobs/sha256/{digest}", digest, size, what)
        documents.add(digest)
        if kind == "pack":
            record = read_pack_record(data)
        else:
            models.append(read_model(kind, data, notes))
    assert record is not None  # read_index insists on one
    lock_digest, lock_size = record["nbmodels.lock.yaml"]
    lock_bytes = archive.document(
        f"blobs/sha256/{lock_digest}", lock_digest, lock_size, "the lockfile"
    )
    reg_digest, reg_size = record["registry.json"]
    documents |= {lock_digest, reg_digest}
    records = parse_json(archive.document(f"blobs/sha256/{reg_digest}", reg_digest, reg_size, "registry.json"), "registry.json").get("entries") or []  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:  # the lockfile's own reader checks every field
        (Path(tmp) / "nbmodels.lock.yaml").write_bytes(lock_bytes)
        try:
            lock = Lockfile.read(Path(tmp) / "nbmodels.lock.yaml")
        except LockfileError as exc:
            said = str(exc).replace(str(Path(tmp) / "nbmodels.lock.yaml"), "its lockfile")
            raise PackError(f"{archive.path}: {said}") from None
    _agree(archive.path, models, lock)
    blobs: dict[str, tuple[int, str, str | None]] = {}
    for model in models:
        if model.config is not None:
            blobs.setdefault(model.config[0], (model.config[1], f"{model.id}: its ModelPack config", None))  # fmt: skip
        for x in model.layers:
            git = x.etag if x.etag and x.etag != x.digest else None
            size, what, known = blobs.get(x.digest, (x.size, f"{model.id}: {x.path}", None))
            blobs[x.digest] = (size, what, known or git)
    if not isinstance(records, list):
        raise PackError(f"{archive.path}: registry.json holds no list of entries.")
    return _Read(models, lock, lock_bytes, [r for r in records if isinstance(r, dict)], blobs, documents)  # fmt: skip


def _agree(path: Path, models: list[PackedModel], lock: Lockfile) -> None:
    """The lockfile and the manifests name the same models, commits and files."""
    locked = {m.id: m for m in lock.models}
    if sorted(locked) != sorted(m.id for m in models):
        raise PackError(f"{path}: the lockfile names {sorted(locked)}, the manifests {sorted(m.id for m in models)}: the pack was changed; refused.")  # fmt: skip
    for model in models:
        m = locked[model.id]
        ours = sorted((x.path, x.size, x.digest) for x in model.layers)
        theirs = sorted((f.path, f.size, f.sha256) for f in m.files)
        if m.commit != model.commit or m.source != model.source or ours != theirs:
            raise PackError(f"{path}: {model.id}: the lockfile and the manifest disagree on its commit or files: the pack was changed; refused.")  # fmt: skip


def unpack(
    path: str | os.PathLike[str],
    *,
    settings: Settings | None = None,
    registry: Registry | None = None,
    progress: ProgressCallback | None = None,
    lockfile: str | os.PathLike[str] | None = None,
) -> UnpackReport:
    """Install a pack into this home: the Hugging Face models into the HF cache, the Ollama
    models into ``$OLLAMA_MODELS``, every file checked by its sha256 before anything is
    installed; then the registry entries, versions and stored configurations. Blobs already
    here are not written again. The pack's lockfile is written to ``lockfile`` (default
    ``$NBMODELS_HOME/packs/<archive name>.lock.yaml``). No network is used."""
    from .install import Layout, install, register, targets, write_lockfile

    start = time.monotonic()
    settings = settings or default_settings()
    source = Path(path)
    archive = _Archive(source)
    staging: list[Path] = []
    made: list[Path] = []
    notes: list[str] = []
    try:
        read = _read(archive)
        archive.check(read.blobs)
        layout = Layout(settings)
        plan = targets(layout, read.models)
        needed: dict[str, Path] = {}  # sha256 -> the root it is staged under
        present = 0
        for target in plan:
            missing = {d for _, d in target.missing(layout)}
            present += len(target.files) - len(missing)
            root = Path(settings.ollama_models if target.model.source == "ollama" else settings.hf_cache)  # fmt: skip
            for digest in missing:
                needed.setdefault(digest, root)
        folders: dict[Path, Path] = {}
        for root in dict.fromkeys(needed.values()):
            made += [p for p in (root, *root.parents) if not p.exists()]
            folders[root] = ensure_dir(root) / f".nbmodels-unpack-{uuid.uuid4().hex[:12]}"
            staging.append(ensure_dir(folders[root]))
        total = sum(size for size, _, _ in read.blobs.values())
        done = [0]
        staged: dict[str, Path] = {}
        order = sorted(read.blobs, key=lambda d: archive.members[f"blobs/sha256/{d}"].offset_data if f"blobs/sha256/{d}" in archive.members else -1)  # fmt: skip
        for digest in order:  # in the archive's order: one pass over the disk
            size, what, git = read.blobs[digest]
            out = folders[needed[digest]] / digest if digest in needed else None

            def tell(n: int, what: str = what) -> None:
                done[0] += n
                if progress is not None:
                    progress(PackProgress("checking", what, done[0], total))

            archive.stage(digest, size, what, out, git, tell)
            if out is not None:
                staged[digest] = out
        # every blob matched: from here on, install
        states, written = install(layout, plan, staged, notes)
        try:
            keys = register(plan, read.records, read.lock, settings, registry, source.name, notes)  # fmt: skip
        except NBModelsError as exc:  # the files stand: said, as a download says it
            keys = []
            notes.append(f"the registry could not record the models: {exc}")
            warnings.warn(f"{source.name} is unpacked, but the registry could not record its models: {exc} (nbmodels.registry.update_index() records them later).", RegistryWarning, stacklevel=2)  # fmt: skip
        target_lock = Path(lockfile) if lockfile is not None else settings.home / "packs" / (source.stem + ".lock.yaml")  # fmt: skip
        write_lockfile(read.lock_bytes, target_lock)
    except BaseException:
        for folder in staging:
            shutil.rmtree(folder, ignore_errors=True)
        for folder in made:  # folders this call created, and nothing else put there
            with contextlib.suppress(OSError):
                folder.rmdir()
        raise
    finally:
        archive.close()
        for folder in staging:
            shutil.rmtree(folder, ignore_errors=True)
    named = read.blobs.keys() | read.documents
    unnamed = [n for n in archive.members if n.startswith("blobs/") and n[13:] not in named]
    if unnamed:
        notes.append(f"{len(unnamed)} blob(s) of the pack are named by no manifest and were left out.")  # fmt: skip
    files = sum(len(m.layers) for m in read.models)
    return UnpackReport(source, states, files, total, written, present, target_lock, tuple(notes),
                        time.monotonic() - start, tuple(keys))  # fmt: skip
