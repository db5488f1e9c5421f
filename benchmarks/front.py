"""Proxy overhead of the front (``src/front/``) against Streamlit reached directly.

Starts one Streamlit (a small app) on a loopback port and the real front before it, then,
interleaving the two paths request by request so machine noise hits both alike:

- HTTP time to first byte: ``GET /`` (the app's HTML page), ``GET /_stcore/health`` and a
  static JavaScript file, over a kept-alive connection as a browser does;
- websocket message latency: Streamlit's heartbeat (``app_heartbeat`` -> ``heartbeat_ack``),
  one round trip through each leg, on an open connection;
- a whole script run over the websocket (rerun -> ``script_finished``).

The baseline is the same request straight to Streamlit, in the same run.
Run: ``.venv/bin/python -m benchmarks.front [--n 300]``
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from websockets.asyncio.client import connect

from benchmarks.common import (
    ROOT,
    begin,
    format_table,
    latency_summary_ms,
    temp_dir,
    write_json,
)
from src.supervisor.readiness import free_port, http_ok

APP = 'import streamlit as st\nst.title("Benchmark")\nst.write("hello " * 20)\n'


def _wait(url: str, proc: subprocess.Popen, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{proc.args[:4]} exited with {proc.returncode}")
        if http_ok(url):
            return
        time.sleep(0.2)
    raise SystemExit(f"{url} did not answer in {timeout} s")


def _start(tmp: Path) -> tuple[list[subprocess.Popen], int, int]:
    app = tmp / "app.py"
    app.write_text(APP)
    direct, front = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("OLYMPUS_")}
    env.update(OLYMPUS_DATA_DIR=str(tmp / "data"), OLYMPUS_LOG_FORMAT="json", PYTHONPATH=str(ROOT))
    streamlit = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            str(app),
            "--server.address",
            "127.0.0.1",
            "--server.port",
            str(direct),
            "--server.headless",
            "true",
            "--browser.gatherUsageStats",
            "false",
            "--server.fileWatcherType",
            "none",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    proxy = subprocess.Popen(
        [sys.executable, "-m", "src.front", "--port", str(front), "--upstream-port", str(direct)],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    _wait(f"http://127.0.0.1:{direct}/_stcore/health", streamlit)
    _wait(f"http://127.0.0.1:{front}/_olympus/health", proxy)
    return [proxy, streamlit], direct, front


def _ttfb(client: httpx.Client, path: str) -> float:
    t0 = time.perf_counter()
    with client.stream("GET", path) as resp:
        chunks = resp.iter_raw()
        next(chunks, b"")
        elapsed = time.perf_counter() - t0
        for _ in chunks:  # drain, so the connection is reused
            pass
    if resp.status_code != 200:
        raise SystemExit(f"GET {path}: {resp.status_code}")
    return elapsed


def bench_http(direct: int, front: int, n: int) -> dict[str, dict[str, dict[str, float]]]:
    # TCP_NODELAY as browsers do: without it this sync client's request writes wait on the
    # server's delayed ACK (~40 ms), which would swamp what is measured here.
    # "direct, new connection" opens a connection per request: on a reused one, Streamlit's
    # server answers small responses ~40 ms late, so both are the baseline.
    def client(port: int, keepalive: bool = True) -> httpx.Client:
        nodelay = httpx.HTTPTransport(
            socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)],
            limits=httpx.Limits(max_keepalive_connections=None if keepalive else 0),
        )
        return httpx.Client(base_url=f"http://127.0.0.1:{port}", transport=nodelay)

    clients = {
        "direct": client(direct),
        "direct, new connection": client(direct, False),
        "front": client(front),
    }
    page = clients["direct"].get("/").text
    script = re.search(r'src="\.?/?(static/js/[^"]+\.js)"', page)
    paths = {"page /": "/", "health": "/_stcore/health"}
    if script:
        paths["static js"] = "/" + script.group(1)
    out: dict[str, dict[str, dict[str, float]]] = {}
    for label, path in paths.items():
        samples: dict[str, list[float]] = {name: [] for name in clients}
        for client in clients.values():
            for _ in range(10):  # warm up both paths (connections, caches)
                _ttfb(client, path)
        for _ in range(n):
            for name, client in clients.items():
                samples[name].append(_ttfb(client, path))
        out[label] = {name: latency_summary_ms(s) for name, s in samples.items()}
    for client in clients.values():
        client.close()
    return out


async def _session(port: int):
    ws = await connect(
        f"ws://127.0.0.1:{port}/_stcore/stream", subprotocols=["streamlit"], max_size=None
    )
    await _run_script(ws)
    return ws


async def _round_trip(ws, back: BackMsg, until: str) -> float:
    """Send ``back``; seconds until a ForwardMsg with field ``until`` arrives."""
    t0 = time.perf_counter()
    await ws.send(back.SerializeToString())
    async for data in ws:
        msg = ForwardMsg()
        msg.ParseFromString(data)
        if msg.HasField(until):
            return time.perf_counter() - t0
    raise SystemExit(f"the websocket closed before {until}")


async def _run_script(ws) -> float:
    back = BackMsg()
    back.rerun_script.query_string = ""
    return await _round_trip(ws, back, "script_finished")


async def _heartbeat(ws) -> float:
    back = BackMsg()
    back.app_heartbeat = True
    return await _round_trip(ws, back, "heartbeat_ack")


async def bench_ws(direct: int, front: int, n: int) -> dict[str, dict[str, dict[str, float]]]:
    sockets = {"direct": await _session(direct), "front": await _session(front)}
    out: dict[str, dict[str, dict[str, float]]] = {}
    for label, fn, count in (
        ("heartbeat round trip", _heartbeat, n),
        ("script run", _run_script, max(20, n // 5)),
    ):
        samples: dict[str, list[float]] = {"direct": [], "front": []}
        for _ in range(count):
            for name, ws in sockets.items():
                samples[name].append(await fn(ws))
        out[label] = {name: latency_summary_ms(s) for name, s in samples.items()}
    for ws in sockets.values():
        await ws.close()
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=300, help="samples per measurement and path")
    args = parser.parse_args(argv)
    info = begin()
    with temp_dir("front") as tmp:
        procs, direct, front = _start(tmp)
        try:
            http = bench_http(direct, front, args.n)
            ws = asyncio.run(bench_ws(direct, front, args.n))
        finally:
            for proc in procs:
                proc.terminate()
                proc.wait(10)
    rows = []
    for label, result in {**http, **ws}.items():
        f = result["front"]
        for name, d in result.items():
            if name != "front":
                rows.append(
                    [
                        label,
                        name,
                        d["p50_ms"],
                        f["p50_ms"],
                        round(f["p50_ms"] - d["p50_ms"], 2),
                        d["p95_ms"],
                        f["p95_ms"],
                        round(f["p95_ms"] - d["p95_ms"], 2),
                    ]
                )
    print(
        format_table(
            [
                "measurement",
                "baseline",
                "base p50 ms",
                "front p50 ms",
                "+p50 ms",
                "base p95 ms",
                "front p95 ms",
                "+p95 ms",
            ],
            rows,
        )
    )
    path = write_json("front", {"machine": info, "n": args.n, "http_ttfb": http, "websocket": ws})
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
