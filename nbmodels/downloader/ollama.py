"""Ollama pulls: through a running Ollama's API, or straight from its registry.

``download(name, source="ollama")`` pulls an Ollama model: ``via="api"`` through the Ollama
at ``OLLAMA_HOST`` (``/api/pull``, the real ``ollama`` client: its progress events become the
task's), ``via="registry"`` straight from the registry (OCI: the manifest, then each blob by
its digest, checked by its sha256) into Ollama's store on disk, no Ollama needed; by default
the API when an Ollama answers, else the registry.

The functions here plan a pull and run an API pull; the
:class:`~nbmodels.downloader.core.Downloader` starts the task and fetches a registry pull's
blobs like any other file (:mod:`nbmodels.downloader.layout` places them).
"""

from __future__ import annotations

import contextlib
import hashlib
import re
from typing import Any

from ..errors import ConfigurationError, DownloadCancelledError, DownloadError, ModelNotFoundError
from ..settings import Settings
from ..types import ModelMetadata
from .http import _open, _Retry
from .plan import PARTIAL_SUFFIX, DownloadPlan, PlannedFile, RemoteFile, _free_bytes
from .task import DownloadTask

__all__: list[str] = []

_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")


def _ollama_answers(host: str) -> bool:
    """Whether an Ollama answers at ``host`` within a second (never raises)."""
    try:
        conn, response = _open(
            f"{host.rstrip('/')}/api/version", {}, token=None, token_host="", timeout=1.0
        )
    except (_Retry, DownloadError):
        return False
    with contextlib.closing(conn):
        return response.status == 200


def _start_ollama(
    settings: Settings,
    registry: str,
    model_or_id: str | ModelMetadata,
    *,
    dry_run: bool,
    via: str | None,
) -> tuple[DownloadPlan, dict[str, Any]]:
    """The plan of an Ollama pull, and the request that starts it (again); the caller starts
    the task. ``dry_run``: a registry pull's plan is returned as is, the API has none."""
    name = model_or_id.id if isinstance(model_or_id, ModelMetadata) else str(model_or_id)
    name = name.strip()
    if not name:
        raise ConfigurationError(
            "download(source='ollama') needs a model name, e.g. 'llama3.2:1b'."
        )
    if via not in (None, "api", "registry"):
        raise ConfigurationError(f"via={via!r}: choose 'api', 'registry' or None.")
    chosen = via is None
    if via is None:
        via = "api" if _ollama_answers(settings.ollama_host) else "registry"
    if via == "registry":
        try:
            plan = _registry_plan(settings, registry, name)
        except DownloadError as exc:
            if not chosen:
                raise
            from ..errors import OllamaNotRunningError

            raise OllamaNotRunningError(
                f"No Ollama answers at {settings.ollama_host}, and pulling {name} "
                f"straight from the registry failed too ({exc}). Start Ollama with `ollama "
                "serve` (or set OLLAMA_HOST), or check the network."
            ) from None
        return plan, {"model_or_id": name, "source": "ollama", "via": "registry"}
    if dry_run:
        raise ConfigurationError(
            "dry_run=True lists Hub files; Ollama's pull API has no listing (the library's "
            "sizes are in nbmodels.search(source='ollama'))."
        )
    from ..storage.ollama_store import OllamaStore

    store = OllamaStore(settings.ollama_models)
    plan = DownloadPlan(
        name,
        name.rpartition(":")[2] or "latest",
        "",
        (),
        store.manifest_path(name),
        kind="ollama",
    )
    return plan, {"model_or_id": name, "source": "ollama"}


def _registry_plan(settings: Settings, registry: str, name: str) -> DownloadPlan:
    """The blobs of ``name``'s manifest in the registry, and which the store has."""
    import json

    from ..storage.ollama_store import OllamaStore, parse_model_name

    try:
        _host, namespace, model, tag = parse_model_name(name)
    except ValueError as exc:
        raise ConfigurationError(f"{name!r} is not an Ollama model name ({exc}).") from None
    base = f"{registry}/v2/{namespace}/{model}"
    headers = {
        "Accept": "application/vnd.docker.distribution.manifest.v2+json",
        "User-Agent": "nbmodels",
    }
    try:
        conn, response = _open(
            f"{base}/manifests/{tag}",
            headers,
            token=None,
            token_host="",
            timeout=settings.timeout,
        )
    except _Retry as exc:
        raise DownloadError(
            f"The Ollama registry at {registry} cannot be reached ({exc})."
        ) from None
    try:
        body = response.read(8 << 20)
        status = response.status
    finally:
        conn.close()
    if status == 404:
        raise ModelNotFoundError(
            f"The Ollama registry has no {name!r} (404); check the name and tag."
        )
    if status != 200:
        raise DownloadError(f"The Ollama registry answered HTTP {status} for {name!r}.")
    try:
        manifest = json.loads(body)
        entries = [*manifest["layers"], manifest["config"]]
    except (ValueError, KeyError, TypeError):
        raise DownloadError(
            f"The Ollama registry sent no readable manifest for {name!r}."
        ) from None
    files: list[RemoteFile] = []
    for entry in entries:
        digest, size = entry.get("digest"), entry.get("size")
        if not (isinstance(digest, str) and _DIGEST.fullmatch(digest)) or not isinstance(size, int):
            raise DownloadError(f"{name}: the manifest names a blob {digest!r} it cannot be.")
        if all(f.path != digest for f in files):
            files.append(RemoteFile(digest, size, sha256=digest.removeprefix("sha256:")))
    store = OllamaStore(settings.ollama_models)
    planned = []
    for f in files:
        blob = store.blob_path(f.path)
        cached = blob.is_file() and blob.stat().st_size == f.size
        partial = blob.with_name(blob.name + PARTIAL_SUFFIX)
        have = partial.stat().st_size if not cached and partial.is_file() else 0
        planned.append(PlannedFile(f, cached, min(have, f.size)))
    return DownloadPlan(
        name,
        tag,
        hashlib.sha256(body).hexdigest(),
        tuple(planned),
        store.manifest_path(name),
        free_bytes=_free_bytes(store.root),
        kind="ollama-registry",
        manifest=manifest,
        source_url=base,
    )


def _pull_ollama(task: DownloadTask, host: str) -> None:
    """Pull through the Ollama at ``host`` (``settings.ollama_host``; the real ``ollama`` client):
    its progress events become the task's; a cancel closes the stream (Ollama keeps its
    partial layers, so pulling again resumes)."""
    import httpx
    import ollama

    from ..errors import OllamaNotRunningError

    client = ollama.Client(host=host)
    totals: dict[str, int] = {}
    done: dict[str, int] = {}
    stream = client.pull(task.model_id, stream=True)
    try:
        for event in stream:
            if task._cancel.is_set():
                raise DownloadCancelledError(f"The pull of {task.model_id} was cancelled.")
            digest, total = event.digest, event.total
            if digest and total:
                totals[digest] = int(total)
                done[digest] = int(event.completed or 0)
            task._update(
                status_message=str(event.status or ""),
                current_file=digest or None,
                total_bytes=sum(totals.values()) or None,
                downloaded_bytes=sum(done.values()),
                files_total=len(totals),
                files_done=sum(done[d] >= totals[d] for d in totals),
            )
            if event.status == "success":
                return
    except ollama.ResponseError as exc:
        raise DownloadError(
            f"Ollama at {host} could not pull {task.model_id}: {exc.error}. Check the name "
            "(nbmodels.search(source='ollama') lists the library)."
        ) from None
    except (httpx.ConnectError, ConnectionError) as exc:
        raise OllamaNotRunningError(
            f"No Ollama answers at {host} ({type(exc).__name__}); start it with `ollama "
            "serve` or set OLLAMA_HOST."
        ) from None
    finally:
        close = getattr(stream, "close", None)
        if close is not None:
            close()
    raise DownloadError(f"Ollama's pull of {task.model_id} ended without success.")
