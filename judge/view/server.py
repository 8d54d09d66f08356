"""The viewer's HTTP server: the page's assets and a small JSON API, standard library only.

`http.server.ThreadingHTTPServer` keeps viewing free of extra dependencies (the FastAPI stack is
the optional ``serve`` extra, for the reward server): one person, one machine, a few requests a
second. Walls around the data, since judged text can be anything:

- every response carries a strict Content-Security-Policy (scripts and styles from this server
  only, nothing inline, no frames, no form posts) and ``nosniff``; the page renders data with
  ``textContent`` only;
- on loopback, requests must name loopback in ``Host`` (no DNS rebinding onto the port);
- bound to anything but loopback, every API call needs the token printed at start-up;
- a label is a JSON POST whose ``Origin``, when sent, is the host it was sent to.
"""

from __future__ import annotations

import functools
import json
import math
import re
import secrets
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from judge.errors import ConfigError, JudgeError
from judge.library import library_dir, load_rubric_file
from judge.view import stats
from judge.view.labels import LabelStore, label_from, labels_path
from judge.view.query import Query, facets, query
from judge.view.runs import Run, judgment_key, open_run, record_id

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
LOOPBACK = ("127.0.0.1", "localhost", "::1")
ASSETS = {
    "view.js": "text/javascript",
    "view.css": "text/css",
    "index.html": "text/html",
    "bundle-data.js": "text/javascript",
}
MAX_BODY = 64 * 1024


def asset(name: str) -> bytes:
    """One file of the page, from the package (judge/view/static)."""
    return resources.files("judge.view").joinpath("static", name).read_bytes()


@functools.lru_cache(maxsize=64)
def _library_rubric(name: str, fingerprint: str) -> dict[str, dict[str, Any]] | None:
    path = library_dir() / f"{name}.yaml"
    try:
        rubric = load_rubric_file(path)
    except JudgeError:
        return None
    if rubric.fingerprint != fingerprint:
        return None
    return {c.id: {"text": c.text, "kind": c.kind, "weight": c.weight} for c in rubric.leaves()}


def rubric_criteria(record: dict[str, Any]) -> dict[str, dict[str, Any]] | None:
    """Text, kind and weight of each criterion of a record's library rubric, else None.

    A judgment does not carry its weights: they are read from the library rubric of that name
    when its fingerprint is the record's.
    """
    name, fingerprint = record.get("rubric"), record.get("rubric_fingerprint")
    if not isinstance(name, str) or not isinstance(fingerprint, str) or not name:
        return None
    if not re.fullmatch(r"[A-Za-z0-9_\-]+", name):  # a library name, never a path
        return None
    return _library_rubric(name, fingerprint)


def _finite(value: Any) -> Any:
    """NaN and infinities (JSON has none) as null, at any depth."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


@dataclass
class Viewer:
    """The runs being viewed and their label stores: what the API answers from."""

    runs: list[Run]
    stores: list[LabelStore]
    writable: bool
    token: str | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def run(self, params: dict[str, str]) -> tuple[Run, LabelStore]:
        """The run (and its labels) that ``run=0|1`` names."""
        try:
            which = int(params.get("run", "0") or 0)
        except ValueError:
            raise ConfigError(f"run={params.get('run')!r} is not 0 or 1") from None
        if not 0 <= which < len(self.runs):
            raise ConfigError(f"run={which}: there are {len(self.runs)} runs")
        return self.runs[which], self.stores[which]

    def meta(self) -> dict[str, Any]:
        """The runs, their sizes and facet values, and whether labels can be written."""
        return {
            "runs": [
                {
                    "name": run.name,
                    "path": str(run.path),
                    "rows": len(run),
                    "labels": str(store.path),
                    "reports": sorted(run.reports),
                    "facets": facets(run),
                }
                for run, store in zip(self.runs, self.stores, strict=True)
            ],
            "writable": self.writable,
        }

    def rows(self, params: dict[str, str]) -> dict[str, Any]:
        """One page of the list (see `judge.view.query.Query.from_params`)."""
        run, store = self.run(params)
        return query(run, Query.from_params(params), store.labelled_ids())

    def sample(self, params: dict[str, str]) -> dict[str, Any]:
        """One record, its current label, its rubric's weights, and the other run's record."""
        run, store = self.run(params)
        try:
            position = int(params.get("i", ""))
        except ValueError:
            raise ConfigError(f"i={params.get('i')!r} is not a row number") from None
        record = run.record(position)
        label = store.labels().get((record_id(record), judgment_key(record)))
        found: dict[str, Any] = {
            "i": position,
            "total": len(run),
            "record": record,
            "label": None if label is None else label.model_dump(mode="json"),
            "rubric": rubric_criteria(record),
        }
        if len(self.runs) == 2:
            other = self.runs[1 - self.runs.index(run)]
            at = other.positions_of([record_id(record)]).get(record_id(record))
            if at is not None:
                found["other"] = {"i": at, "record": other.record(at)}
        return found

    def add_label(self, body: dict[str, Any]) -> dict[str, Any]:
        """Write a person's label of the record at ``i`` (the record is read here, not sent)."""
        run, store = self.run({"run": str(body.get("run", 0))})
        position = body.get("i")
        if not isinstance(position, int):
            raise ConfigError("a label needs the row number i")
        label = store.add(label_from(run.record(position), body))
        return label.model_dump(mode="json")

    def plots(self, params: dict[str, str]) -> dict[str, Any]:
        """The plots' data of one run."""
        run, store = self.run(params)
        return stats.plots(run, store.labels().values())

    def compare(self) -> dict[str, Any]:
        """The two runs side by side."""
        if len(self.runs) != 2:
            raise ConfigError("compare needs two runs", hint="judge view RUN_A RUN_B")
        return stats.compare(self.runs[0], self.runs[1])


class _Handler(BaseHTTPRequestHandler):
    server: _ViewHTTPServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # quiet: the CLI prints the URL
        return

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Content-Security-Policy", CSP)
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Referrer-Policy", "no-referrer")
        self.send_header("X-Frame-Options", "DENY")
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: int, payload: Any) -> None:
        body = json.dumps(_finite(payload), ensure_ascii=False).encode("utf-8")
        self._send(status, body, "application/json; charset=utf-8")

    def _allowed(self) -> bool:
        host = (self.headers.get("Host") or "").lower()
        if self.server.hosts is not None and host not in self.server.hosts:
            self._json(HTTPStatus.FORBIDDEN, {"error": f"host {host!r} is not this viewer"})
            return False
        return True

    def _token_ok(self, params: dict[str, str]) -> bool:
        token = self.server.viewer.token
        given = self.headers.get("X-Judge-Token") or params.get("token", "")
        if token is not None and not secrets.compare_digest(given, token):
            self._json(HTTPStatus.UNAUTHORIZED, {"error": "this viewer needs its token"})
            return False
        return True

    def do_GET(self) -> None:
        if not self._allowed():
            return
        parts = urlsplit(self.path)
        params = dict(parse_qsl(parts.query))
        if parts.path in ("/", "/index.html"):
            self._send(HTTPStatus.OK, asset("index.html"), "text/html; charset=utf-8")
            return
        if parts.path.startswith("/static/"):
            name = parts.path.removeprefix("/static/")
            if name in ASSETS:
                self._send(HTTPStatus.OK, asset(name), ASSETS[name] + "; charset=utf-8")
            else:
                self._json(HTTPStatus.NOT_FOUND, {"error": "no such asset"})
            return
        viewer = self.server.viewer
        routes = {
            "/api/meta": lambda: viewer.meta(),
            "/api/rows": lambda: viewer.rows(params),
            "/api/sample": lambda: viewer.sample(params),
            "/api/plots": lambda: viewer.plots(params),
            "/api/compare": lambda: viewer.compare(),
        }
        answer = routes.get(parts.path)
        if answer is None:
            self._json(HTTPStatus.NOT_FOUND, {"error": f"no such page {parts.path!r}"})
            return
        if self._token_ok(params):
            self._answer(answer)

    def do_POST(self) -> None:
        if not self._allowed():
            return
        parts = urlsplit(self.path)
        if parts.path != "/api/label":
            self._json(HTTPStatus.NOT_FOUND, {"error": f"no such endpoint {parts.path!r}"})
            return
        if not self._token_ok(dict(parse_qsl(parts.query))):
            return
        origin = self.headers.get("Origin")
        host = (self.headers.get("Host") or "").lower()
        if origin is not None and urlsplit(origin).netloc.lower() != host:
            self._json(HTTPStatus.FORBIDDEN, {"error": "a label must come from this viewer"})
            return
        if not (self.headers.get("Content-Type") or "").startswith("application/json"):
            self._json(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, {"error": "send JSON"})
            return
        length = int(self.headers.get("Content-Length") or 0)
        if not 0 < length <= MAX_BODY:
            self._json(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, {"error": "label body size"})
            return
        try:
            body = json.loads(self.rfile.read(length))
        except ValueError:
            self._json(HTTPStatus.BAD_REQUEST, {"error": "not JSON"})
            return
        if not isinstance(body, dict):
            self._json(HTTPStatus.BAD_REQUEST, {"error": "a label is a JSON object"})
            return
        self._answer(lambda: self.server.viewer.add_label(body))

    def _answer(self, answer: Any) -> None:
        try:
            payload = answer()
        except JudgeError as exc:
            self._json(HTTPStatus.BAD_REQUEST, {"error": str(exc)})
            return
        except ValueError as exc:  # a label the model refuses (e.g. better = "c")
            self._json(HTTPStatus.BAD_REQUEST, {"error": str(exc).splitlines()[0]})
            return
        self._json(HTTPStatus.OK, payload)


class _ViewHTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], viewer: Viewer) -> None:
        self.viewer = viewer
        super().__init__(address, _Handler)
        host, port = address[0], self.server_address[1]
        # On loopback the Host header must name loopback (a rebound DNS name is refused); bound
        # to another address the machine has other names, and the token is the wall.
        self.hosts: set[str] | None = None
        if host in LOOPBACK:
            self.hosts = {f"{name}:{port}" for name in LOOPBACK} | {f"[::1]:{port}"}


@dataclass
class ViewServer:
    """A running viewer: its URL, and how to stop it."""

    url: str
    httpd: _ViewHTTPServer
    viewer: Viewer
    serving: threading.Event = field(default_factory=threading.Event)

    def serve_forever(self) -> None:
        """Serve until `shutdown` (or Ctrl-C in the caller)."""
        self.serving.set()
        self.httpd.serve_forever()

    def start(self) -> ViewServer:
        """Serve on a background thread (tests, notebooks)."""
        threading.Thread(target=self.serve_forever, daemon=True).start()
        self.serving.wait()
        return self

    def shutdown(self) -> None:
        """Stop serving (if it started) and release the labels lock."""
        if self.serving.is_set():
            self.httpd.shutdown()
        self.httpd.server_close()
        for store in self.viewer.stores:
            store.close()


def open_viewer(paths: Sequence[Path], *, read_only: bool = False) -> Viewer:
    """Open one or two runs and their labels files (locked for writing unless `read_only`)."""
    if not 1 <= len(paths) <= 2:
        raise ConfigError(f"give one or two runs, not {len(paths)}")
    runs = [open_run(path) for path in paths]
    stores: list[LabelStore] = []
    try:
        for run in runs:
            stores.append(LabelStore(labels_path(run.path), writable=not read_only).open())
    except JudgeError:
        for store in stores:
            store.close()
        raise
    return Viewer(runs, stores, writable=not read_only)


def serve_view(
    paths: Sequence[Path],
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    token: str | None = None,
    read_only: bool = False,
) -> ViewServer:
    """Open the runs and bind the viewer (port 0: any free port); call `serve_forever` next.

    Bound to an address other than loopback, the API needs a token: `token`, or a fresh one.
    """
    viewer = open_viewer(paths, read_only=read_only)
    if host not in LOOPBACK:
        viewer.token = token or secrets.token_urlsafe(18)
    elif token is not None:
        viewer.token = token
    try:
        httpd = _ViewHTTPServer((host, port), viewer)
    except OSError as exc:
        for store in viewer.stores:
            store.close()
        raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{shown}:{httpd.server_address[1]}/"
    if viewer.token is not None:
        url += f"?token={viewer.token}"
    return ViewServer(url, httpd, viewer)
