"""A stand-in for ``ollama serve`` in supervisor tests: a real process, real HTTP.

Listens on OLLAMA_HOST and answers GET /api/version. FAKE_ENGINE_MODE chooses how it
misbehaves: ok, exit (exits 3 at once), never_ready (never listens), ignore_term (serves but
ignores SIGTERM), crash_after (serves, then exits 4 after FAKE_ENGINE_SECONDS), spawn (serves
and starts a grandchild that sleeps). Each start appends its pid to FAKE_ENGINE_LOG.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

mode = os.environ.get("FAKE_ENGINE_MODE", "ok")
log = os.environ.get("FAKE_ENGINE_LOG")
if log:
    with open(log, "a", encoding="utf-8") as fh:
        fh.write(f"{os.getpid()} {mode} {os.environ.get('OLLAMA_MODELS', '')}\n")
print(f"fake engine {os.getpid()} starting in mode {mode}", flush=True)

if mode == "exit":
    print("fake engine: fatal error, exiting", flush=True)
    sys.exit(3)
if mode == "ignore_term":
    signal.signal(signal.SIGTERM, lambda *_: print("fake engine: ignoring SIGTERM", flush=True))
if mode == "never_ready":
    while True:
        time.sleep(1)
if mode == "spawn":
    grandchild = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    print(f"fake engine grandchild {grandchild.pid}", flush=True)


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = json.dumps({"version": "0.0.0-fake"}).encode()
        self.send_response(200 if self.path in ("/api/version", "/health") else 404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


host, _, port = os.environ["OLLAMA_HOST"].rpartition(":")
server = ThreadingHTTPServer((host, int(port)), Handler)
if mode == "crash_after":
    delay = float(os.environ.get("FAKE_ENGINE_SECONDS", "1"))
    threading.Timer(delay, lambda: os._exit(4)).start()
print(f"fake engine listening on {host}:{port}", flush=True)
server.serve_forever()
