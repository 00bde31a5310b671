"""Where a file's bytes come from: an ordered list of mirrors, each checked by the same hash.

    >>> d = Downloader(settings, mirrors=["http://olah.team:8090", "/mnt/team/hf-cache"])
    >>> task = d.download("org/name")                  # or download(..., mirrors=[...])
    >>> mirror_report(task).skipped                    # mirrors that served wrong bytes, or died

A mirror is a Hub-compatible base URL (an `olah <https://github.com/vtuber-plan/olah>`_
mirror, a proxy, the Hub itself) that answers ``GET <base>/<repo>/resolve/<commit>/<path>``,
or a team's cache folder (``file:///path`` or a plain path): a Hugging Face cache,
``models--org--name/blobs/<etag>`` and ``snapshots/<commit>/<path>``. The list comes from
``download(..., mirrors=[...])``, else ``Downloader(mirrors=[...])``, else the setting
``mirrors`` (``NBMODELS_MIRRORS``, comma-separated); the primary endpoint (``HF_ENDPOINT``)
is tried last unless the list names it.

What a file *is* never comes from a mirror: its commit, size and sha256 (or git blob id)
come from the primary endpoint's file listing, as without mirrors. Then each file's bytes
come from the first source that has them, checked against that same hash:

* a source without the file (404, a folder without the blob) is passed over for that file,
  said in the task's progress message;
* a source that serves bytes that do not match the hash is skipped for the rest of the
  download, named in a :class:`MirrorWarning` and in :func:`mirror_report`, and the file is
  fetched from the next one. Bytes a resumed file already held from elsewhere are not
  blamed on it: it gets one try of the whole file first;
* a source that fails after the downloader's retries (down, refusing, stalling) is skipped
  for the rest of the download too, and said;
* when no source gives the file, the error names each and what it did.

A folder's blob is hashed where it lies and hard-linked into the cache when it matches (the
cache never rewrites a blob in place), or copied while hashed when a link is not possible
(another file system) or the target is a ``local_dir`` (a working folder someone may edit).
The token goes to the primary endpoint's host only, never to a mirror elsewhere.
"""

from __future__ import annotations

import contextlib
import os
import threading
import warnings
import weakref
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from ..errors import (
    AccessDeniedError,
    ChecksumMismatchError,
    ConfigurationError,
    DownloadCancelledError,
    DownloadError,
    MirrorWarning,
    ModelNotFoundError,
)
from .http import _BUFFER, _hash_existing, _Hasher
from .lease import Lease
from .plan import RemoteFile, repo_folder, safe_relative_path
from .task import DownloadTask

__all__ = ["Mirror", "MirrorReport", "MirrorWarning", "mirror_report", "parse_mirrors"]


@dataclass(frozen=True)
class Mirror:
    """One source of bytes: ``kind`` is ``"http"`` (a base URL) or ``"folder"`` (a cache)."""

    kind: str
    location: str  # the base URL without a trailing slash, or the folder
    primary: bool = False

    @property
    def name(self) -> str:
        """How messages name it (a URL without its query; the primary said as such)."""
        if self.kind == "folder":
            return self.location
        parts = urlsplit(self.location)
        shown = f"{parts.scheme}://{parts.netloc}{parts.path}"
        return f"{shown} (the primary endpoint)" if self.primary else shown


def parse_mirrors(entries: str | Iterable[str] | None, primary: str) -> tuple[Mirror, ...]:
    """The sources to try, in order: ``entries`` (a comma-separated string or a list of URLs
    and folders), then ``primary`` unless listed. No entries: ``()`` (only the primary, as
    without mirrors). ConfigurationError for an entry that is neither."""
    if entries is None:
        return ()
    items = entries.split(",") if isinstance(entries, str) else list(entries)
    out: list[Mirror] = []
    base = primary.rstrip("/")
    for raw in items:
        text = str(raw).strip()
        if not text:
            continue
        parts = urlsplit(text)
        if parts.scheme in ("http", "https"):
            if not parts.hostname:
                raise ConfigurationError(f"The mirror {text!r} has no host: write it as http(s)://host[:port][/path].")  # fmt: skip
            if parts.username or parts.password or parts.query:
                raise ConfigurationError(f"The mirror {parts.scheme}://{parts.hostname}...: credentials or a query in a mirror URL are not used; give the bare base URL.")  # fmt: skip
            url = text.rstrip("/")
            out.append(Mirror("http", url, primary=url == base))
        elif parts.scheme == "file":
            out.append(Mirror("folder", str(Path(unquote(parts.path)).expanduser())))
        elif parts.scheme and len(parts.scheme) > 1:  # c:\... is a path, s3:// is not a mirror
            raise ConfigurationError(f"The mirror {text!r} is neither an http(s) URL nor a folder (file:///path or a path).")  # fmt: skip
        else:
            out.append(Mirror("folder", str(Path(text).expanduser())))
    if not out:
        return ()
    if not any(m.primary for m in out):
        out.append(Mirror("http", base, primary=True))
    return tuple(out)


@dataclass
class MirrorReport:
    """Where a download's files came from: ``served`` (file -> the source's name) and
    ``skipped`` (source -> why it was skipped for the rest of the download)."""

    sources: tuple[Mirror, ...]
    served: dict[str, str] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def _skip(self, source: Mirror, why: str) -> bool:
        """Record ``source`` as skipped; whether this call was the first to say so."""
        with self._lock:
            if source.name in self.skipped:
                return False
            self.skipped[source.name] = why
            return True


_reports: weakref.WeakKeyDictionary[DownloadTask, MirrorReport] = weakref.WeakKeyDictionary()
_reports_lock = threading.Lock()


def mirror_report(task: DownloadTask) -> MirrorReport | None:
    """What the mirrors did for ``task`` (None: it used no mirrors, or fetched nothing yet)."""
    with _reports_lock:
        return _reports.get(task)


def sources_for(downloader: Any, task: DownloadTask) -> MirrorReport | None:
    """The task's report (made on first use) when it downloads through mirrors, else None."""
    if task.plan.kind != "huggingface":
        return None
    with _reports_lock:
        report = _reports.get(task)
        if report is None:
            asked = task._request.get("mirrors")
            entries = asked if asked is not None else downloader.mirrors
            sources = parse_mirrors(entries, downloader.settings.hf_endpoint)
            if not sources:
                return None
            report = _reports[task] = MirrorReport(sources)
        return report


def fetch(downloader: Any, task: DownloadTask, f: RemoteFile, mine: Path, lease: Lease, report: MirrorReport) -> None:  # fmt: skip
    """``f`` from the first source of ``report`` that has it whole and right, published;
    DownloadError (ChecksumMismatchError when every source served wrong bytes) naming each
    source and what it did, when none does."""
    plan = task.plan
    said: list[str] = []
    mismatches = 0
    for i, source in enumerate(report.sources):
        why = report.skipped.get(source.name)
        if why is not None:
            said.append(f"{source.name}: skipped ({why})")
            mismatches += why.startswith("served")
            continue
        following = next((s.name for s in report.sources[i + 1 :] if s.name not in report.skipped), None)  # fmt: skip
        then = f"; trying {following}" if following else ""
        for _attempt in (1, 2):
            clean = not mine.exists() or mine.stat().st_size == 0
            try:
                if source.kind == "folder":
                    ok = _from_folder(task, f, mine, source)
                else:
                    ok = downloader._fetch(task, f, mine, lease, endpoint=source.location)
            except DownloadCancelledError:
                raise
            except ModelNotFoundError:
                said.append(f"{source.name}: does not have it")
                task._update(status_message=f"{f.path}: not on {source.name}{then}")
                break
            except (AccessDeniedError, DownloadError) as exc:
                reason = str(exc).splitlines()[0]
                if isinstance(exc, AccessDeniedError):
                    reason = f"refused it ({exc.reason})"
                report._skip(source, reason)
                said.append(f"{source.name}: {reason}")
                task._update(status_message=f"{f.path}: {source.name} failed ({reason}){then}")
                break
            if ok:
                downloader._publish(plan, f, mine)
                with report._lock:
                    report.served[f.path] = source.name
                return
            _restart(downloader, task, f, mine)  # the bad bytes are gone, never published
            if not clean:
                continue  # bytes from elsewhere were in it: this source gets a whole try
            kind = "sha256" if f.sha256 else "git blob sha1"
            why = f"served {f.path} with bytes that do not match its {kind} ({f.etag[:12]}...)"
            mismatches += 1
            said.append(f"{source.name}: {why}")
            if report._skip(source, why):
                warnings.warn(
                    f"The mirror {source.name} {why} for {plan.model_id}: it is skipped for the "
                    f"rest of this download{then.replace('; trying', ', and the file comes from')}.",
                    MirrorWarning,
                    stacklevel=2,
                )
            task._update(status_message=f"{f.path}: wrong bytes from {source.name}{then}")
            break
    error = ChecksumMismatchError if mismatches and mismatches == len(said) else DownloadError
    raise error(
        f"{plan.model_id}: no source gave {f.path} (every one in turn: " + "; ".join(said)
        + "). Check the mirrors (NBMODELS_MIRRORS), or download again later."
    )  # fmt: skip


def _restart(downloader: Any, task: DownloadTask, f: RemoteFile, mine: Path) -> None:
    """An empty file of this writer's in place of ``mine``. Unlinked, never truncated: it
    may be a hard link to a team folder's blob, which must not change."""
    mine.unlink(missing_ok=True)
    downloader._create_file(task.plan, mine)
    task._add_bytes(f, 0)


def _from_folder(task: DownloadTask, f: RemoteFile, mine: Path, source: Mirror) -> bool:
    """``mine`` made to hold ``f`` from a cache folder (a hard link, else a copy), hashed;
    whether it matches. ModelNotFoundError when the folder has no such file."""
    plan = task.plan
    root = Path(source.location)
    if not root.is_dir():
        raise DownloadError(f"{source.name} is not a folder here (not mounted?)")
    repo = repo_folder(root, plan.model_id)
    found = None
    for candidate in (repo / "blobs" / f.etag, repo / "snapshots" / plan.commit / safe_relative_path(f.path)):  # fmt: skip
        with contextlib.suppress(OSError):
            if candidate.is_file():
                found = candidate
                break
    if found is None:
        raise ModelNotFoundError(f"{plan.model_id}: {f.path} is not in {source.name}")
    if found.stat().st_size != f.size:
        return False
    hasher = _Hasher(f)
    mine.unlink(missing_ok=True)
    linked = False
    if not plan.local_dir:  # a blob of the cache is never written in place: a link is safe
        with contextlib.suppress(OSError):
            os.link(found, mine)
            linked = True
    if linked:
        try:
            _hash_existing(mine, hasher, f.size)
        except BaseException:  # never left behind as a partial file a later writer appends to
            mine.unlink(missing_ok=True)
            raise
    else:
        with open(found, "rb") as src, open(mine, "wb") as out:
            while chunk := src.read(_BUFFER):
                hasher.update(chunk)
                out.write(chunk)
                if task._cancel.is_set():
                    raise DownloadCancelledError(f"{f.path}: cancelled")
    task._add_bytes(f, f.size)
    return hasher.fed == f.size and hasher.matches() and mine.stat().st_size == f.size
