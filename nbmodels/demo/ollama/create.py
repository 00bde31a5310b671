"""``POST /api/create`` of the local Ollama server: a new model made of an existing one's
layers (``from``) or of GGUF blobs already in the store (``files``), with the template,
system, parameters, license and messages layers the request sets, as Ollama's
``server/create.go`` (``CreateHandler``, ``createModel``, ``setTemplate``, ``setSystem``,
``setParameters``...) makes them; ``/api/show`` then reads those layers back.

What this stand-in does not do, and answers so: ``quantize`` (400), safetensors ``files``
(400: GGUF only), pulling a ``from`` model it does not have (404), and checking a template's
Go syntax (Ollama parses it with ``text/template``; this server stores it as given).
Blobs are pushed first (``POST /api/blobs/sha256:<hex>`` with the raw bytes, what the
client's ``create_blob`` sends; ``HEAD`` says whether one is there): :func:`blob_upload`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

from ...errors import InvalidModelIdError, ModelNotFoundError
from ...gguf_info import is_gguf, read_gguf_info
from ...storage.ollama_store import (
    CONFIG_MEDIA_TYPE,
    MANIFEST_MEDIA_TYPE,
    OllamaStore,
    blob_name,
    media_type,
    parse_model_name,
)

__all__ = ["blob_upload", "create_model"]


class _Refused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def create_model(handler: Any, body: dict[str, Any]) -> None:
    """The endpoint (a route of :mod:`.server`): the work is done first, so that a refusal
    gets its status code; the progress events are then sent as Ollama sends them."""
    try:
        events = list(_create(handler.app.store, body))
    except _Refused as exc:
        handler._send_json(exc.status, {"error": exc.message})
        return
    if body.get("stream", True):
        handler._stream(iter(events))
    else:
        handler._send_json(200, events[-1])


def blob_upload(handler: Any, method: str, name: str) -> None:
    """``HEAD``/``POST /api/blobs/<digest>``: whether the store has a blob; store the raw
    request body as one, only when its bytes hash to the digest the path names (Ollama
    answers 400 otherwise: nothing is stored)."""
    digest = name.replace("-", ":", 1) if name.startswith("sha256-") else name
    hexdigest = digest.removeprefix("sha256:")
    if not digest.startswith("sha256:") or len(hexdigest) != 64 or not all(c in "0123456789abcdef" for c in hexdigest):  # fmt: skip
        handler._send_json(400, {"error": f"invalid digest format: {name}"})
        return
    store: OllamaStore = handler.app.store
    if method == "HEAD":
        handler._send_bytes(200 if store.has_blob(digest) else 404, b"", "text/plain")
        return
    if method != "POST":
        handler._send_json(405, {"error": "405 method not allowed"})
        return
    import hashlib

    length = int(handler.headers.get("Content-Length") or 0)
    data = handler.rfile.read(length) if length else b""
    if hashlib.sha256(data).hexdigest() != hexdigest:
        handler._send_json(400, {"error": "digest mismatch"})
        return
    store.write_blob(data, digest=digest)
    handler._send_bytes(201, b"", "text/plain")


def _layer(store: OllamaStore, kind: str, data: bytes) -> dict[str, Any]:
    digest = store.write_blob(data)
    return {"mediaType": media_type(kind), "digest": digest, "size": len(data)}


def _create(store: OllamaStore, body: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    name = body.get("model") or body.get("name")
    try:
        parse_model_name(str(name or ""))
    except InvalidModelIdError:
        raise _Refused(400, "invalid model name") from None
    if body.get("quantize") or body.get("quantization"):
        raise _Refused(400, "quantize is not supported by this demo server: quantize the GGUF with llama.cpp's llama-quantize, then create from it")  # fmt: skip
    events: list[dict[str, Any]] = []
    config: dict[str, Any] = {}
    if body.get("from"):
        try:
            base = store.get(str(body["from"]))
        except (ModelNotFoundError, InvalidModelIdError):
            raise _Refused(404, f"model '{body['from']}' not found: pull it first") from None
        layers = [dict(layer) for layer in base.layers]
        config = {k: v for k, v in base.config.items() if k != "rootfs"}
        events.append({"status": "reading model metadata"})
    elif body.get("files"):
        layers, config = _from_files(store, body["files"])
        events.append({"status": "parsing GGUF"})
    else:
        raise _Refused(400, "neither 'from' or 'files' was specified")

    def replace(kind: str, data: bytes | None) -> None:
        nonlocal layers
        layers = [lay for lay in layers if lay.get("mediaType") != media_type(kind)]
        if data is not None:
            layers.append(_layer(store, kind, data))
            events.append({"status": f"creating {kind} layer {layers[-1]['digest']}"})

    if body.get("template"):
        replace("template", str(body["template"]).encode())
    if body.get("system"):
        replace("system", str(body["system"]).encode())
    licenses = body.get("license")
    for text in [licenses] if isinstance(licenses, str) else licenses or []:
        if text:
            layers.append(_layer(store, "license", str(text).encode()))
    params = body.get("parameters")
    if params is not None and not isinstance(params, Mapping):
        raise _Refused(400, "parameters must be an object")
    merged = {**_existing_params(store, layers), **(params or {})}  # the request's win
    if merged:
        replace("params", (json.dumps(merged) + "\n").encode())
    if body.get("messages"):
        replace("messages", (json.dumps(list(body["messages"])) + "\n").encode())
    config["rootfs"] = {"type": "layers", "diff_ids": [lay["digest"] for lay in layers]}
    config_bytes = json.dumps(config, sort_keys=True).encode()
    manifest = {
        "schemaVersion": 2,
        "mediaType": MANIFEST_MEDIA_TYPE,
        "config": {
            "mediaType": CONFIG_MEDIA_TYPE,
            "digest": store.write_blob(config_bytes),
            "size": len(config_bytes),
        },
        "layers": layers,
    }
    events.append({"status": "writing manifest"})
    store.write_manifest(str(name), manifest)
    events.append({"status": "success"})
    return iter(events)


def _existing_params(store: OllamaStore, layers: list[dict[str, Any]]) -> dict[str, Any]:
    for layer in layers:
        if layer.get("mediaType") == media_type("params"):
            try:
                value = json.loads(store.blob_path(str(layer["digest"])).read_text())
            except (OSError, ValueError, InvalidModelIdError):
                return {}
            return dict(value) if isinstance(value, dict) else {}
    return {}


def _from_files(store: OllamaStore, files: Any) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    if not isinstance(files, Mapping):
        raise _Refused(400, "files must be an object of file names and digests")
    layers: list[dict[str, Any]] = []
    config: dict[str, Any] = {"model_format": "gguf"}
    for file_name, digest in files.items():
        if str(file_name).startswith("/") or ".." in str(file_name).split("/"):
            raise _Refused(400, "file path must be relative")
        try:
            path = store.blobs_dir / blob_name(str(digest))
        except InvalidModelIdError:
            raise _Refused(400, "invalid digest format") from None
        if not path.is_file():
            raise _Refused(400, f"blob {digest} not found: push it first (POST /api/blobs/{digest})")  # fmt: skip
        if not is_gguf(path):
            raise _Refused(400, "supplied file was not in GGUF format (this demo server creates models from GGUF files only)")  # fmt: skip
        info = read_gguf_info(path)
        kind = "projector" if info.architecture == "clip" else "model"
        layers.append(
            {"mediaType": media_type(kind), "digest": str(digest), "size": path.stat().st_size}
        )
        if kind == "model":
            config.update(model_family=info.architecture, model_families=[info.architecture],
                          file_type=info.quantization)  # fmt: skip
    if not any(lay["mediaType"] == media_type("model") for lay in layers):
        raise _Refused(400, "no files provided to convert")
    return layers, config
