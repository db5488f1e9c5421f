"""A local stand-in for the Hugging Face Hub's file endpoints, with scriptable faults.

It answers the way huggingface.co does for LFS files (what ``huggingface_hub`` 2.4's
``get_hf_file_metadata`` and downloads rely on):

- ``HEAD|GET /{owner}/{name}/resolve/{revision}/{filename}`` -> ``302`` to a CDN URL on a
  *different origin* (a second port), carrying ``X-Repo-Commit``, ``X-Linked-Etag``
  (the sha256), ``X-Linked-Size`` and ``ETag``; errors carry ``X-Error-Code``:
  ``RepoNotFound`` (401 without a token, 404 with one), ``GatedRepo`` (401 without a
  token, 403 with a token that was not granted access), ``EntryNotFound`` (404).
- ``GET /api/models/{owner}/{name}/tree/{revision}`` -> the file listing (``list_repo_tree``).
- ``GET /cdn/{sha256}`` on the CDN port: the bytes, with ``Range`` support (``206`` and
  ``Content-Range``; ``416`` past the end).

Faults: ``drop_after[filename] = (n_bytes, times)`` closes the connection after n bytes of
a body, ``times`` times; ``corrupt`` serves altered bytes (sha256 mismatch);
``slow_s_per_mb`` throttles; ``stall_s`` sleeps before the body (``stall_times`` times).
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

COMMIT = "0123456789abcdef0123456789abcdef01234567"
_TREE = re.compile(r"^/api/models/(?P<repo>[^/]+/[^/]+)/tree/(?P<rev>[^/]+)$")
_RESOLVE = re.compile(r"^/(?P<repo>[^/]+/[^/]+)/resolve/(?P<rev>[^/]+)/(?P<file>.+)$")


@dataclass
class HubState:
    files: dict[str, dict[str, bytes]] = field(default_factory=dict)  # repo -> name -> bytes
    gated: dict[str, set[str]] = field(default_factory=dict)  # repo -> tokens granted access
    drop_after: dict[str, tuple[int, int]] = field(default_factory=dict)  # file -> (bytes, times)
    corrupt: set[str] = field(default_factory=set)
    slow_s_per_mb: float = 0.0
    stall_s: float = 0.0
    stall_times: int = 1 << 30  # how many bodies stall (then they flow)
    requests: list[dict[str, str]] = field(default_factory=list)
    sent_bytes: int = 0  # body bytes the CDN wrote
    lock: threading.Lock = field(default_factory=threading.Lock)

    def by_sha(self, sha: str) -> tuple[str, bytes] | None:
        for repo_files in self.files.values():
            for name, data in repo_files.items():
                if hashlib.sha256(data).hexdigest() == sha:
                    return name, data
        return None


class HubServer:
    """Hub on ``url`` and its CDN on a second port. Use as a context manager."""

    def __init__(self) -> None:
        self.state = HubState()
        self._hub = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self, cdn=False))
        self._cdn = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self, cdn=True))
        self._threads = [
            threading.Thread(target=s.serve_forever, args=(0.05,), daemon=True)
            for s in (self._hub, self._cdn)
        ]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._hub.server_address[1]}"

    @property
    def cdn_url(self) -> str:
        return f"http://127.0.0.1:{self._cdn.server_address[1]}"

    def add_file(self, repo: str, name: str, data: bytes) -> str:
        self.state.files.setdefault(repo, {})[name] = data
        return hashlib.sha256(data).hexdigest()

    def gate(self, repo: str, *granted_tokens: str) -> None:
        self.state.gated[repo] = set(granted_tokens)

    def __enter__(self) -> HubServer:
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        for s in (self._hub, self._cdn):
            s.shutdown()
            s.server_close()


def _handler(server: HubServer, *, cdn: bool) -> type[BaseHTTPRequestHandler]:
    state = server.state

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:  # keep test output clean
            pass

        def do_HEAD(self) -> None:
            self._dispatch(body=False)

        def do_GET(self) -> None:
            self._dispatch(body=True)

        # --- routing ---------------------------------------------------------------------
        def _dispatch(self, *, body: bool) -> None:
            with state.lock:
                state.requests.append(
                    {
                        "method": self.command,
                        "path": self.path,
                        "cdn": str(cdn),
                        "range": self.headers.get("Range", ""),
                        "auth": self.headers.get("Authorization", ""),
                    }
                )
            if cdn:
                return self._cdn(body)
            tree = _TREE.match(self.path.split("?")[0])
            if tree:
                return self._tree(tree["repo"])
            m = _RESOLVE.match(self.path.split("?")[0])
            if not m:
                return self._error(404, "RepoNotFound", "Not found")
            return self._resolve(m["repo"], m["file"])

        def _token(self) -> str:
            auth = self.headers.get("Authorization", "")
            return auth[7:] if auth.startswith("Bearer ") else ""

        def _resolve(self, repo: str, filename: str) -> None:
            token = self._token()
            if repo not in state.files:
                return self._error(404 if token else 401, "RepoNotFound", "Repository not found")
            if repo in state.gated and token not in state.gated[repo]:
                if not token:
                    msg = (
                        f"Access to model {repo} is restricted. You must have access to it and be "
                        "authenticated to access it. Please log in."
                    )
                    return self._error(401, "GatedRepo", msg)
                msg = (
                    f"Access to model {repo} is restricted and you are not in the authorized list. "
                    f"Visit https://huggingface.co/{repo} to ask for access."
                )
                return self._error(403, "GatedRepo", msg)
            data = state.files[repo].get(filename)
            if data is None:
                return self._error(404, "EntryNotFound", f'{filename} does not exist on "main"')
            sha = hashlib.sha256(data).hexdigest()
            self.send_response(302)
            self.send_header("Location", f"{server.cdn_url}/cdn/{sha}?name={filename}")
            self.send_header("X-Repo-Commit", COMMIT)
            self.send_header("X-Linked-Etag", f'"{sha}"')
            self.send_header("X-Linked-Size", str(len(data)))
            self.send_header("ETag", '"' + hashlib.sha1(data).hexdigest() + '"')
            self.send_header("Content-Length", "0")
            self.end_headers()

        def _tree(self, repo: str) -> None:
            if repo not in state.files:
                return self._error(
                    404 if self._token() else 401, "RepoNotFound", "Repository not found"
                )
            items = [
                {
                    "type": "file",
                    "oid": hashlib.sha1(d).hexdigest(),
                    "size": len(d),
                    "path": name,
                    "lfs": {
                        "oid": hashlib.sha256(d).hexdigest(),
                        "size": len(d),
                        "pointerSize": 134,
                    },
                }
                for name, d in sorted(state.files[repo].items())
            ]
            payload = json.dumps(items).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def _error(self, status: int, code: str, message: str) -> None:
            payload = ('{{"error": "{}"}}'.format(message.replace('"', "'"))).encode()
            self.send_response(status)
            self.send_header("X-Error-Code", code)
            self.send_header("X-Error-Message", message)
            self.send_header("X-Repo-Commit", COMMIT) if code == "EntryNotFound" else None
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(payload)

        # --- the CDN ---------------------------------------------------------------------
        def _cdn(self, body: bool) -> None:
            sha = self.path.split("?")[0].rsplit("/", 1)[-1]
            found = state.by_sha(sha)
            if found is None:
                return self._error(404, "EntryNotFound", "no such blob")
            name, data = found
            if name in state.corrupt:
                data = bytes([data[0] ^ 0xFF]) + data[1:]
            total = len(data)
            start = 0
            rng = self.headers.get("Range", "")
            m = re.match(r"bytes=(\d+)-(\d*)$", rng)
            if m:
                start = int(m[1])
                if start >= total:
                    self.send_response(416)
                    self.send_header("Content-Range", f"bytes */{total}")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(206)
                self.send_header("Content-Range", f"bytes {start}-{total - 1}/{total}")
            else:
                self.send_response(200)
            self.send_header("Content-Length", str(total - start))
            self.send_header("Accept-Ranges", "bytes")
            self.send_header("Content-Type", "application/octet-stream")
            self.end_headers()
            if not body:
                return
            if state.stall_s and state.stall_times > 0:
                with state.lock:
                    state.stall_times -= 1
                time.sleep(state.stall_s)
            limit = total - start
            with state.lock:
                drop = state.drop_after.get(name)
                if drop and drop[1] > 0:
                    limit = min(limit, max(0, drop[0] - start))
                    state.drop_after[name] = (drop[0], drop[1] - 1)
                    self.close_connection = True
            view = memoryview(data)[start : start + limit]
            step = 64 * 1024
            try:
                for i in range(0, len(view), step):
                    self.wfile.write(view[i : i + step])
                    with state.lock:
                        state.sent_bytes += len(view[i : i + step])
                    if state.slow_s_per_mb:
                        time.sleep(state.slow_s_per_mb * step / 1e6)
                self.wfile.flush()
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True

    return Handler
