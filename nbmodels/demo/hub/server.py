"""A local Hugging Face Hub: the HTTP API ``huggingface_hub`` and ``transformers`` use.

It serves the model repos of a folder (see :mod:`nbmodels.hub.repos` for the layout) and,
for search, the real records of ``hub-models.parquet``, following the contract in
``shared/docs/hub-api-contract.md``:

- ``GET /api/models`` (search, author, filter, pipeline_tag, library, gated, num_parameters,
  sort/direction, limit, full, cardData, config, expand; paged by ``Link: <...>; rel="next"``);
- ``GET /api/models/{id}``, ``.../revision/{rev}`` (``?blobs=true``), ``.../tree/{rev}[/{path}]``
  (paged), ``.../refs``; ``POST .../paths-info/{rev}``;
- ``HEAD``/``GET /{id}/resolve/{rev}/{path}`` with ``ETag``, ``X-Repo-Commit``, ranges;
- errors carry ``X-Error-Code``: RepoNotFound, RevisionNotFound, EntryNotFound, GatedRepo.

The standard library's threading HTTP server is enough for tests and demos, and adds no
dependency. Requests are recorded (method, path, status; never headers) in
:attr:`HubServer.requests`, so tests can count what a client asked for.

    >>> with HubServer(repos_dir, records=find_shared_records()) as hub:
    ...     HfApi(endpoint=hub.url).list_models(search="llama", limit=5)
"""

from __future__ import annotations

import contextlib
import fnmatch
import json
import mimetypes
import re
import socket
import sys
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlencode, urlsplit

from nbmodels.errors import ConfigurationError

from .records import (
    ModelQuery,
    QueryError,
    decode_cursor,
    encode_cursor,
    load_records,
    project,
    record_from_revision,
)
from .repos import RepoFile, RepoStore, Revision

__all__ = ["HubServer", "RequestRecord"]

_CHUNK = 256 * 1024
_LOG_SIZE = 100_000  # requests remembered; a demo server may run for days
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


@dataclass(frozen=True)
class RequestRecord:
    """One request the server answered. No header is kept (one may carry a token): only its
    ``Range`` and whether it carried an ``Authorization`` at all."""

    method: str
    path: str
    status: int
    range: str | None = None
    authorized: bool = False


#: what :meth:`HubServer.add_fault` can make a file download do
FAULT_KINDS = (
    "drop",
    "status",
    "stall",
    "trickle",
    "corrupt",
    "short",
    "long",
    "redirect",
    "ignore-range",
)


@dataclass
class Fault:
    """A fault the next matching ``GET .../resolve/...`` meets (``times`` of them).

    ``drop``: the connection closes after ``at`` bytes of the body. ``status``: the answer is
    HTTP ``status`` (``retry_after`` adds that header, for 429/503). ``stall``: ``at`` bytes,
    then ``delay`` seconds of silence, then the connection closes. ``trickle``: the body in
    ``at``-byte pieces ``delay`` seconds apart. ``corrupt``: the byte at offset ``at`` is
    flipped. ``short``/``long``: Content-Length and body ``at`` bytes shorter/longer than the
    file. ``redirect``: a 302 to ``location`` + the same path (another host, like the Hub's
    CDN). ``ignore-range``: a ``Range`` request gets the whole file with 200.

    ``route="info"`` puts a ``status`` fault on the model's info (``/api/models/<repo>``,
    what a download lists its files from) instead; ``path`` then matches the repo id.
    """

    kind: str
    path: str = "*"  # fnmatch pattern over the file's path in the repo
    route: str = "resolve"  # or "info"
    times: int = 1
    at: int = 0
    status: int = 500
    retry_after: int | None = None
    delay: float = 0.0
    location: str = ""


class HubServer:
    """A Hub HTTP server on ``host:port`` (port 0 picks a free one), started by :meth:`start`.

    ``repos_dir`` holds ``<org>/<name>/`` folders, each a repo whose files are ``main``;
    ``<repo>/.revisions/<branch>/`` and ``<repo>/.tags/<tag>/`` add branches and tags (see
    :mod:`nbmodels.hub.repos`). ``records`` is a hub-stats parquet file (e.g.
    :func:`find_shared_records`) whose rows ``/api/models`` lists and ``model_info`` answers.
    ``gated`` repos answer ``/resolve`` with 401 GatedRepo unless the request carries an
    ``Authorization: Bearer <token>`` header (any non-empty token). ``page_size`` is the most
    items one ``/api/models`` or tree page holds (1000 on the real Hub).
    """

    def __init__(
        self,
        repos_dir: Path | None = None,
        *,
        records: Path | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        gated: Iterable[str] = frozenset(),
        page_size: int = 1000,
        verbose: bool = False,
    ) -> None:
        if page_size < 1:
            raise ConfigurationError(f"page_size must be at least 1, not {page_size}")
        self.store = RepoStore(repos_dir)
        self.records_path = Path(records) if records is not None else None
        self.host = host
        self.gated = set(gated)
        self.page_size = page_size
        self.verbose = verbose
        self._port = port
        self._records: list[dict[str, Any]] = []
        self._by_id: dict[str, dict[str, Any]] = {}
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._served: dict[tuple[str, str, bool], dict[str, Any]] = {}
        self._log: deque[RequestRecord] = deque(maxlen=_LOG_SIZE)
        self._log_lock = threading.Lock()
        self.faults: list[Fault] = []
        self._tamper: dict[str, Callable[[dict[str, Any]], Any]] = {}

    # -- faults ---------------------------------------------------------------------------

    def add_fault(self, kind: str, **options: Any) -> Fault:
        """Make the next matching file download(s) fail in one way (see :class:`Fault`)."""
        if kind not in FAULT_KINDS:
            raise ConfigurationError(
                f"Unknown fault {kind!r}; choose from {', '.join(FAULT_KINDS)}."
            )
        fault = Fault(kind, **options)
        with self._log_lock:
            self.faults.append(fault)
        return fault

    def clear_faults(self) -> None:
        with self._log_lock:
            self.faults.clear()

    def tamper(self, repo_id: str, change: Callable[[dict[str, Any]], Any] | None) -> None:
        """Have the model info of ``repo_id`` pass through ``change`` (which edits the dict)
        before it is sent: a hub that lies, for tests. ``None`` stops it."""
        with self._log_lock:
            if change is None:
                self._tamper.pop(repo_id, None)
            else:
                self._tamper[repo_id] = change

    def _take_fault(self, path: str, route: str = "resolve") -> Fault | None:
        with self._log_lock:
            for fault in self.faults:
                if fault.times > 0 and fault.route == route and fnmatch.fnmatch(path, fault.path):
                    fault.times -= 1
                    return fault
        return None

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> HubServer:
        """Load the records and serve in a background thread; returns self."""
        if self._httpd is not None:
            return self
        if self.records_path is not None and not self._records:
            self._records = load_records(self.records_path)
            self._by_id = {r["id"]: r for r in self._records}
        httpd = ThreadingHTTPServer((self.host, self._port), _Handler)
        httpd.daemon_threads = True
        httpd.hub = self  # type: ignore[attr-defined]
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever, name="nbmodels-hub", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        httpd, self._httpd = self._httpd, None
        if httpd is not None:
            httpd.shutdown()
            httpd.server_close()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def __enter__(self) -> HubServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("the hub server is not running: call start() first")
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def __repr__(self) -> str:
        state = self.url if self._httpd is not None else "stopped"
        return f"HubServer({state}, repos={self.store.root}, records={len(self._records)})"

    # -- request log ----------------------------------------------------------------------

    @property
    def requests(self) -> list[RequestRecord]:
        """The requests answered so far (the last 100,000), oldest first (a copy)."""
        with self._log_lock:
            return list(self._log)

    def clear_requests(self) -> None:
        with self._log_lock:
            self._log.clear()

    def _record(self, entry: RequestRecord) -> None:
        with self._log_lock:
            self._log.append(entry)
        if self.verbose:
            print(f"{entry.status} {entry.method} {entry.path}", file=sys.stderr, flush=True)

    # -- data -----------------------------------------------------------------------------

    def served_records(self) -> list[dict[str, Any]]:
        """Full records of the repos on disk, at ``main``."""
        out = []
        for repo_id in self.store.repo_ids():
            rev = self.store.resolve(repo_id, "main")
            if rev is None:
                continue
            # the commit changes with any file, so it keys the parsed card, config and headers
            key = (repo_id, rev.commit, repo_id in self.gated)
            if key not in self._served:
                self._served[key] = record_from_revision(rev, gated=key[2])
            out.append(self._served[key])
        return out

    def record(self, repo_id: str) -> dict[str, Any] | None:
        """The real (parquet) record of ``repo_id``, if any."""
        return self._by_id.get(repo_id)

    def all_records(self) -> list[dict[str, Any]]:
        served = self.served_records()
        ids = {r["id"] for r in served}
        return served + [r for r in self._records if r["id"] not in ids]


class _HubError(Exception):
    def __init__(self, status: int, code: str | None, message: str, commit: str | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.commit = status, code, message, commit


def _repo_not_found(repo_id: str) -> _HubError:
    return _HubError(404, "RepoNotFound", f"Repository {repo_id!r} not found on this hub.")


def _revision_not_found(repo_id: str, rev: str) -> _HubError:
    return _HubError(404, "RevisionNotFound", f"Invalid rev id: {rev!r} for {repo_id!r}.")


def _entry_not_found(repo_id: str, path: str, commit: str | None) -> _HubError:
    return _HubError(404, "EntryNotFound", f"{path!r} does not exist in {repo_id!r}.", commit)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "nbmodels-hub"

    @property
    def hub(self) -> HubServer:
        return self.server.hub  # type: ignore[attr-defined,no-any-return]

    # -- plumbing -------------------------------------------------------------------------

    def log_message(self, format: str, *args: Any) -> None:
        pass  # requests are recorded by log_request, without headers

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        status = code if isinstance(code, int) else int(str(code)) if str(code).isdigit() else 0
        self.hub._record(
            RequestRecord(
                self.command,
                self.path,
                status,
                range=self.headers.get("Range"),
                authorized=bool(self.headers.get("Authorization")),
            )
        )

    def do_HEAD(self) -> None:
        self._dispatch(head=True)

    def do_GET(self) -> None:
        self._dispatch(head=False)

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        parts = [unquote(p) for p in urlsplit(self.path).path.split("/")[1:]]
        # POST /api/models/{org}/{name}/paths-info/{rev}, form-encoded paths (get_paths_info)
        if parts[:2] == ["api", "models"] and len(parts) == 6 and parts[4] == "paths-info":
            form = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
            self._dispatch(head=False, route=lambda: self._paths_info(parts, form))
        else:
            message = "This local hub is read-only: it answers GET and HEAD."
            self._send_json(405, {"error": message}, head=False, headers={"Allow": "GET, HEAD"})

    def _paths_info(self, parts: list[str], form: dict[str, list[str]]) -> None:
        repo_id, rev = f"{parts[2]}/{parts[3]}", parts[5]
        if not self.hub.store.exists(repo_id) and self._record_at(repo_id, rev) is not None:
            return self._send_json(200, [], head=False)  # a real record: no files served here
        revision = self._revision(repo_id, rev)
        entries = [revision.entry(path) for path in form.get("paths", [])]
        self._send_json(200, [e for e in entries if e is not None], head=False)

    def _dispatch(self, *, head: bool, route: Callable[[], None] | None = None) -> None:
        try:
            if route is None:
                self._route(head=head)
            else:
                route()
        except _HubError as err:
            headers = {"X-Error-Message": _header_safe(err.message)}
            if err.code:
                headers["X-Error-Code"] = err.code
            if err.commit:
                headers["X-Repo-Commit"] = err.commit
            self._send_json(err.status, {"error": err.message}, head=head, headers=headers)
        except QueryError as err:
            headers = {"X-Error-Message": _header_safe(str(err))}
            self._send_json(400, {"error": str(err)}, head=head, headers=headers)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client went away
        except Exception:  # a bug here: answer 500 rather than drop the connection
            traceback.print_exc(file=sys.stderr)
            message = "Internal error of the local hub (traceback on its stderr)."
            self._send_json(
                500, {"error": message}, head=head, headers={"X-Error-Message": message}
            )

    def _send_json(
        self, status: int, data: Any, *, head: bool, headers: dict[str, str] | None = None
    ) -> None:
        body = json.dumps(data).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if not head:
            self.wfile.write(body)

    def _base_url(self) -> str:
        host = self.headers.get("Host")
        return f"http://{host}" if host else self.hub.url

    def _authorized(self) -> bool:
        scheme, _, token = (self.headers.get("Authorization") or "").partition(" ")
        return scheme.lower() == "bearer" and bool(token.strip())

    # -- routes ---------------------------------------------------------------------------

    def _route(self, *, head: bool) -> None:
        split = urlsplit(self.path)
        # split before unquoting: a quoted revision such as refs%2Fpr%2F1 is one segment
        parts = [unquote(p) for p in split.path.split("/")[1:]]
        params = parse_qs(split.query, keep_blank_values=True)
        if parts[:2] == ["api", "models"]:
            rest = parts[2:] if parts[2:] != [""] else []
            if not rest:
                return self._list_models(params, head=head)
            return self._model_api(rest, params, head=head)
        if parts[:2] in (["api", "datasets"], ["api", "spaces"]) or parts[0] in (
            "datasets",
            "spaces",
        ):
            raise _HubError(404, "RepoNotFound", "This local hub serves models only.")
        if len(parts) >= 5 and parts[2] == "resolve":
            return self._resolve(f"{parts[0]}/{parts[1]}", parts[3], "/".join(parts[4:]), head=head)
        raise _HubError(404, None, f"{split.path} is not served by this local hub.")

    def _model_api(self, rest: list[str], params: dict[str, list[str]], *, head: bool) -> None:
        repo_id = "/".join(rest[:2])
        action, args = (rest[2], rest[3:]) if len(rest) > 2 else ("", [])
        if action == "":
            return self._info(repo_id, "main", params, head=head)
        if action == "revision" and args:
            return self._info(repo_id, "/".join(args), params, head=head)
        if action == "tree" and args:
            return self._tree(repo_id, args[0], "/".join(args[1:]), params, head=head)
        if action == "refs":
            return self._refs(repo_id, head=head)
        raise _HubError(
            404, None, f"/api/models/{repo_id}/{action} is not served by this local hub."
        )

    def _revision(self, repo_id: str, rev: str) -> Revision:
        if not self.hub.store.exists(repo_id):
            raise _repo_not_found(repo_id)
        revision = self.hub.store.resolve(repo_id, rev)
        if revision is None:
            raise _revision_not_found(repo_id, rev)
        return revision

    def _record_at(self, repo_id: str, rev: str) -> dict[str, Any] | None:
        """A parquet record, when ``repo_id`` is one and ``rev`` is main or its sha."""
        record = self.hub.record(repo_id)
        if record is not None and rev not in ("main", "refs/heads/main", record["sha"]):
            raise _revision_not_found(repo_id, rev)
        return record

    def _info(self, repo_id: str, rev: str, params: dict[str, list[str]], *, head: bool) -> None:
        fault = None if head else self.hub._take_fault(repo_id, route="info")
        if fault is not None:
            headers = {"X-Error-Message": f"injected HTTP {fault.status}"}
            if fault.retry_after is not None:
                headers["Retry-After"] = str(fault.retry_after)
            self._send_json(fault.status, {"error": "injected"}, head=False, headers=headers)
            return
        blobs = (params.get("blobs") or ["false"])[-1].lower() == "true"
        if self.hub.store.exists(repo_id):
            info = record_from_revision(
                self._revision(repo_id, rev), gated=repo_id in self.hub.gated, blobs=blobs
            )
        else:
            record = self._record_at(repo_id, rev)
            if record is None:
                raise _repo_not_found(repo_id)
            info = dict(record)
        expand = [v for value in params.get("expand", []) for v in value.split(",") if v]
        if expand:
            info = project(info, ["_id", "id", *expand])
        change = self.hub._tamper.get(repo_id)
        if change is not None:
            info = json.loads(json.dumps(info))
            change(info)
        self._send_json(200, info, head=head)

    def _tree(
        self, repo_id: str, rev: str, path: str, params: dict[str, list[str]], *, head: bool
    ) -> None:
        recursive = (params.get("recursive") or ["false"])[-1].lower() == "true"
        if self.hub.store.exists(repo_id):
            revision = self._revision(repo_id, rev)
            entries = revision.tree(path, recursive=recursive)
            commit = revision.commit
        else:
            record = self._record_at(repo_id, rev)
            if record is None:
                raise _repo_not_found(repo_id)
            entries, commit = ([] if not path.strip("/") else None), record["sha"]
        if entries is None:
            raise _entry_not_found(repo_id, path, commit)
        offset = decode_cursor((params.get("cursor") or [""])[-1])
        page = entries[offset : offset + self.hub.page_size]
        headers = {"X-Repo-Commit": commit}
        if offset + self.hub.page_size < len(entries):
            headers["Link"] = self._next_link(params, offset + self.hub.page_size)
        self._send_json(200, page, head=head, headers=headers)

    def _refs(self, repo_id: str, *, head: bool) -> None:
        if self.hub.store.exists(repo_id):
            revs = self.hub.store.revisions(repo_id)
        else:
            record = self.hub.record(repo_id)
            if record is None:
                raise _repo_not_found(repo_id)
            main = {"name": "main", "ref": "refs/heads/main", "targetCommit": record["sha"]}
            return self._send_json(200, {"branches": [main], "converts": [], "tags": []}, head=head)

        def ref(rev: Revision) -> dict[str, str]:
            kind = "heads" if rev.kind == "branch" else "tags"
            return {"name": rev.name, "ref": f"refs/{kind}/{rev.name}", "targetCommit": rev.commit}

        body = {
            "branches": [ref(r) for r in revs if r.kind == "branch"],
            "converts": [],
            "tags": [ref(r) for r in revs if r.kind == "tag"],
        }
        self._send_json(200, body, head=head)

    def _list_models(self, params: dict[str, list[str]], *, head: bool) -> None:
        query = ModelQuery.parse(params)
        found = query.run(self.hub.all_records())
        size = min(query.limit or self.hub.page_size, self.hub.page_size)
        page = found[query.offset : query.offset + size]
        fields = query.fields()
        headers = {}
        if query.offset + size < len(found):
            headers["Link"] = self._next_link(params, query.offset + size)
        self._send_json(200, [project(item, fields) for item in page], head=head, headers=headers)

    def _next_link(self, params: dict[str, list[str]], offset: int) -> str:
        path = urlsplit(self.path).path
        query = {k: v for k, v in params.items() if k != "cursor"} | {
            "cursor": [encode_cursor(offset)]
        }
        return f'<{self._base_url()}{path}?{urlencode(query, doseq=True)}>; rel="next"'

    # -- files ----------------------------------------------------------------------------

    def _resolve(self, repo_id: str, rev: str, path: str, *, head: bool) -> None:
        if not self.hub.store.exists(repo_id):
            record = self._record_at(repo_id, rev)
            if record is None:
                raise _repo_not_found(repo_id)
            # a real record: the repo exists on the Hub, but none of its files are served here
            raise _entry_not_found(repo_id, path, record["sha"])
        if repo_id in self.hub.gated and not self._authorized():
            raise _HubError(
                401,
                "GatedRepo",
                f"Access to model {repo_id} is restricted. You must have access to it and be "
                "authenticated to access it. Please log in.",
            )
        revision = self._revision(repo_id, rev)
        file = revision.file(path)
        if file is None:
            raise _entry_not_found(repo_id, path, revision.commit)
        fault = None if head else self.hub._take_fault(file.path)
        if fault is not None and fault.kind == "redirect":
            self.send_response(302)
            self.send_header("Location", fault.location.rstrip("/") + self.path)
            self.send_header("X-Repo-Commit", revision.commit)
            self.send_header("ETag", f'"{file.etag}"')
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if fault is not None and fault.kind == "status":
            headers = {"X-Error-Message": f"injected HTTP {fault.status}"}
            if fault.retry_after is not None:
                headers["Retry-After"] = str(fault.retry_after)
            self._send_json(fault.status, {"error": "injected"}, head=False, headers=headers)
            return
        self._send_file(file, revision.commit, head=head, fault=fault)

    def _send_file(
        self, file: RepoFile, commit: str, *, head: bool, fault: Fault | None = None
    ) -> None:
        start, end = 0, file.size - 1
        status = 200
        range_header = (self.headers.get("Range") or "").strip()
        if fault is not None and fault.kind == "ignore-range":
            range_header, fault = "", None
        if _RANGE.match(range_header):
            parsed = _parse_range(range_header, file.size)
            if parsed is None:
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{file.size}")
                self.send_header("Content-Length", "0")
                self.send_header("X-Repo-Commit", commit)
                self.end_headers()
                return
            (start, end), status = parsed, 206
        length = max(0, end - start + 1)
        declared = length
        if fault is not None and fault.kind == "short":
            declared = max(0, length - max(1, fault.at))
        elif fault is not None and fault.kind == "long":
            declared = length + max(1, fault.at)
        ctype = mimetypes.guess_type(file.path)[0] or "application/octet-stream"
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(declared))
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("ETag", f'"{file.etag}"')
        self.send_header("X-Repo-Commit", commit)
        if status == 206:
            self.send_header("Content-Range", f"bytes {start}-{end}/{file.size}")
        self.end_headers()
        if head or length == 0:
            return
        if fault is not None:
            return self._send_faulty(file, start, length, declared, fault)
        with file.local.open("rb") as fh:
            fh.seek(start)
            left = length
            while left > 0 and (chunk := fh.read(min(_CHUNK, left))):
                self.wfile.write(chunk)
                left -= len(chunk)

    def _send_faulty(
        self, file: RepoFile, start: int, length: int, declared: int, fault: Fault
    ) -> None:
        """The body of one answer, as ``fault`` says (offsets count from the body's start)."""
        with file.local.open("rb") as fh:
            fh.seek(start)
            body = bytearray(fh.read(length))
        if fault.kind == "corrupt" and body:
            body[min(fault.at, len(body) - 1)] ^= 0xFF
        elif fault.kind == "long":
            body += b"\x00" * (declared - length)
        elif fault.kind == "short":
            body = body[:declared]
        if fault.kind in ("drop", "stall"):
            self.wfile.write(body[: fault.at])
            self.wfile.flush()
            if fault.kind == "stall":
                time.sleep(fault.delay)
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        if fault.kind == "trickle":
            step = max(1, fault.at)
            for i in range(0, len(body), step):
                self.wfile.write(body[i : i + step])
                self.wfile.flush()
                time.sleep(fault.delay)
            return
        self.wfile.write(body)


def _header_safe(text: str) -> str:
    """Latin-1 text without control characters: request paths end up in error headers."""
    text = text.encode("ascii", "backslashreplace").decode()
    return re.sub(r"[\x00-\x1f\x7f]", "?", text)


def _parse_range(header: str, size: int) -> tuple[int, int] | None:
    """``(start, end)`` inclusive for one ``bytes=`` range; None when unsatisfiable.

    Only single ranges are served; the caller sends the whole file for any Range header it
    does not understand (several ranges, another unit), as RFC 9110 allows.
    """
    match = _RANGE.match(header)
    if not match:
        return None
    first, last = match.groups()
    if first == "" and last == "":
        return None
    if first == "":  # suffix: the last N bytes
        n = int(last)
        if n == 0 or size == 0:
            return None
        return (max(0, size - n), size - 1)
    start = int(first)
    if start >= size:
        return None
    end = min(int(last), size - 1) if last else size - 1
    if end < start:
        return None
    return (start, end)
