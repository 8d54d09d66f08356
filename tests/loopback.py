"""Timeouts for tests that talk to a server on loopback.

httpx's default of 5 s fails on a busy machine (a CI box at load 10 on 2 cores answers a local
request in seconds, not milliseconds). A test that means to exercise a timeout sets its own,
short one; every other call to a local server uses this generous one.
"""

from __future__ import annotations

import json
from http.server import BaseHTTPRequestHandler

import httpx

LOOPBACK_TIMEOUT = httpx.Timeout(120.0, connect=30.0)
"""For any request to a server the test started on 127.0.0.1."""

SERVER_START_S = 180.0
"""How long a test waits for a server it started to answer its health check."""


def send_json(handler: BaseHTTPRequestHandler, status: int, payload: object) -> None:
    """Answer a test server's request with `payload` as JSON (with its length, for keep-alive)."""
    data = json.dumps(payload).encode()
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    handler.wfile.write(data)
