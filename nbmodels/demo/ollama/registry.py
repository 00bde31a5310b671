"""An Ollama registry on loopback: the OCI distribution API over an Ollama store's files.

``GET /v2/<namespace>/<model>/manifests/<tag>`` answers the manifest Ollama keeps in its
store; ``GET /v2/<namespace>/<model>/blobs/sha256:<hex>`` the blob (``Range`` served), so
``nbmodels.download(name, source="ollama", via="registry")`` can be tested without any
Ollama running, with real bytes whose sha256 is their name. ``requests`` records what was
asked (method, path, Range), for tests.

    >>> with RegistryServer(store_root) as registry:
    ...     Downloader(settings, ollama_registry=registry.url).download("tinyllama-chat", ...)
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from ...storage.ollama_store import OllamaStore

__all__ = ["RegistryServer"]

_MANIFEST = re.compile(r"^/v2/([a-z0-9._-]+)/([a-z0-9._-]+)/manifests/([A-Za-z0-9._-]+)$")
_BLOB = re.compile(r"^/v2/([a-z0-9._-]+)/([a-z0-9._-]+)/blobs/(sha256:[0-9a-f]{64})$")
_CHUNK = 1 << 20


@dataclass(frozen=True)
class RegistryRequest:
    method: str
    path: str
    status: int
    range: str | None


class RegistryServer:
    """Serves the models of the Ollama store at ``root`` as registry ``library/<model>``."""

    def __init__(self, root: Path | str, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.store = OllamaStore(root)
        self.requests: list[RegistryRequest] = []
        # close the next blob answer longer than this after this many bytes (a small blob
        # fetched at the same time does not take it)
        self.drop_at: int | None = None
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer((host, port), _Handler)
        self._httpd.daemon_threads = True
        self._httpd.registry = self  # type: ignore[attr-defined]
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        if isinstance(host, bytes):
            host = host.decode()
        return f"http://{host}:{port}"

    def start(self) -> RegistryServer:
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> RegistryServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class _Handler(BaseHTTPRequestHandler):
    server: Any

    def log_message(self, *args: object) -> None:
        pass

    def _record(self, status: int) -> None:
        registry: RegistryServer = self.server.registry
        with registry._lock:
            registry.requests.append(
                RegistryRequest(self.command, self.path, status, self.headers.get("Range"))
            )

    def _error(self, status: int, code: str, message: str) -> None:
        body = json.dumps({"errors": [{"code": code, "message": message}]}).encode()
        self._record(status)
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_HEAD(self) -> None:
        self.do_GET(head=True)

    def do_GET(self, head: bool = False) -> None:
        registry: RegistryServer = self.server.registry
        if self.path == "/v2/":
            self._record(200)
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            if not head:
                self.wfile.write(b"{}")
            return
        if m := _MANIFEST.match(self.path):
            namespace, model, tag = m.groups()
            name = f"{model}:{tag}" if namespace == "library" else f"{namespace}/{model}:{tag}"
            path = registry.store.manifest_path(name)
            if not path.is_file():
                return self._error(404, "MANIFEST_UNKNOWN", "manifest unknown")
            body = path.read_bytes()
            self._record(200)
            self.send_response(200)
            self.send_header("Content-Type", "application/vnd.docker.distribution.manifest.v2+json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if not head:
                self.wfile.write(body)
            return
        if m := _BLOB.match(self.path):
            digest = m.group(3)
            blob = registry.store.blob_path(digest)
            if not blob.is_file():
                return self._error(404, "BLOB_UNKNOWN", "blob unknown")
            size = blob.stat().st_size
            start, status = 0, 200
            wanted = re.match(r"^bytes=(\d+)-$", self.headers.get("Range") or "")
            if wanted:
                start, status = int(wanted.group(1)), 206
                if start >= size:
                    return self._error(416, "RANGE_INVALID", "range not satisfiable")
            self._record(status)
            self.send_response(status)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(size - start))
            self.send_header("Docker-Content-Digest", digest)
            if status == 206:
                self.send_header("Content-Range", f"bytes {start}-{size - 1}/{size}")
            self.end_headers()
            if head:
                return
            with registry._lock:  # the first answer long enough to be cut takes the drop
                drop = registry.drop_at
                if drop is not None and size - start > drop:
                    registry.drop_at = None
                else:
                    drop = None
            with blob.open("rb") as fh:
                fh.seek(start)
                sent = 0
                while chunk := fh.read(_CHUNK):
                    if drop is not None and sent + len(chunk) > drop:
                        self.wfile.write(chunk[: drop - sent])
                        self.close_connection = True
                        return
                    self.wfile.write(chunk)
                    sent += len(chunk)
            return
        self._error(404, "NAME_UNKNOWN", f"{self.path} is not served here")
