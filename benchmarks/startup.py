"""Startup speed: ``python startup.py`` -> Streamlit's health endpoint answering.

Target: <= 8 s on this machine with the model already on disk. Also reported separately:
when the engine answers (and how long its own start took), when the model is warm (and how
long the warm-up request took), and how long a clean SIGTERM shutdown takes. The peer
baseline is a bare ``streamlit run`` of the same app: the floor any supervisor pays.

Scenarios:
- ``model-on-disk``: OLYMPUS_LLAMACPP_MODEL_PATH points at the GGUF, so the fixed order runs
  (engine, wait until ready, then Streamlit).
- ``provisioned``: no model path; provisioning finds the model (offline here, so the catalog
  choice falls back to the bundled SmolLM2) while the UI is already up.

Run: ``.venv/bin/python -m benchmarks.startup [--runs 3] [--app streamlit_app.py]``
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from benchmarks.common import ROOT, format_table, temp_dir, write_json

PYTHON = sys.executable


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=0.5) as resp:
            return resp.status == 200
    except OSError:
        return False


def _status(data_dir: Path) -> dict:
    try:
        return json.loads((data_dir / "status.json").read_text())
    except (OSError, ValueError):
        return {}


def _gguf() -> Path:
    from src.models.model_files import bundled_gguf

    return bundled_gguf()


def run_once(scenario: str, app: Path, timeout: float = 120) -> dict[str, float | None]:
    with temp_dir("startup") as tmp:
        data = tmp / "data"
        port = _free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("OLYMPUS_")}
        env.update(
            HF_HUB_OFFLINE="1",
            OLYMPUS_DATA_DIR=str(data),
            OLYMPUS_PORT=str(port),
            OLYMPUS_ADDRESS="127.0.0.1",
            OLYMPUS_LLAMACPP_PORT=str(_free_port()),
            OLYMPUS_STREAMLIT_APP=str(app),
            OLYMPUS_LOG_FORMAT="json",
        )
        if scenario == "model-on-disk":
            env["OLYMPUS_LLAMACPP_MODEL_PATH"] = str(_gguf())
        log = open(tmp / "startup.log", "wb")  # noqa: SIM115
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            [PYTHON, str(ROOT / "startup.py")],
            env=env,
            cwd=tmp,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        marks: dict[str, float | None] = {
            "health_s": None,
            "engine_ready_s": None,
            "model_ready_s": None,
        }
        try:
            deadline = t0 + timeout
            while time.perf_counter() < deadline and proc.poll() is None:
                now = time.perf_counter() - t0
                if marks["health_s"] is None and _ok(f"http://127.0.0.1:{port}/_stcore/health"):
                    marks["health_s"] = now
                st = _status(data)
                if marks["engine_ready_s"] is None and st.get("engine", {}).get("state") == "ready":
                    marks["engine_ready_s"] = now
                if marks["model_ready_s"] is None and st.get("provisioning", {}).get("phase") in (
                    "ready",
                    "failed",
                ):
                    marks["model_ready_s"] = now
                if all(v is not None for v in marks.values()):
                    break
                time.sleep(0.02)
            st = _status(data)
            marks["engine_own_start_s"] = st.get("engine", {}).get("ready_after_s")
            marks["warm_up_s"] = st.get("provisioning", {}).get("warm_up_s")
            if st.get("provisioning", {}).get("phase") == "failed":
                print(f"  provisioning failed: {st['provisioning'].get('error')}")
            t_stop = time.perf_counter()
            proc.send_signal(signal.SIGTERM)
            code = proc.wait(timeout=60)
            marks["shutdown_s"] = time.perf_counter() - t_stop
            if code != 143:
                print(f"  startup.py exited {code}; log: {tmp / 'startup.log'}")
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            log.close()
        if marks["health_s"] is None:
            print((tmp / "startup.log").read_text()[-3000:])
        return marks


def bare_streamlit(app: Path, timeout: float = 60) -> float | None:
    """Peer baseline: ``streamlit run`` alone, to its health endpoint."""
    port = _free_port()
    with temp_dir("bare") as tmp:
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            [
                PYTHON,
                "-m",
                "streamlit",
                "run",
                str(app),
                "--server.headless",
                "true",
                "--server.port",
                str(port),
                "--server.address",
                "127.0.0.1",
                "--browser.gatherUsageStats",
                "false",
                "--server.fileWatcherType",
                "none",
            ],
            cwd=tmp,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            while time.perf_counter() - t0 < timeout:
                if _ok(f"http://127.0.0.1:{port}/_stcore/health"):
                    return time.perf_counter() - t0
                time.sleep(0.02)
            return None
        finally:
            proc.terminate()
            proc.wait(timeout=30)


def _summary(values: list[float | None]) -> tuple[str, str]:
    got = [v for v in values if v is not None]
    if not got:
        return "-", "-"
    return f"{statistics.median(got):.2f}", f"{max(got):.2f}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--app", type=Path, default=ROOT / "streamlit_app.py")
    parser.add_argument(
        "--scenario", choices=("model-on-disk", "provisioned", "both"), default="both"
    )
    args = parser.parse_args()
    app = args.app.resolve()
    if not app.exists():
        app = Path(tempfile.mkdtemp()) / "placeholder_app.py"
        app.write_text("import streamlit as st\nst.write('placeholder')\n")
        print(f"{args.app} missing: using a placeholder app")
    print(f"app: {app}; {os.cpu_count()} CPUs; {args.runs} runs per scenario")
    bare = [bare_streamlit(app) for _ in range(args.runs)]
    rows = [["bare streamlit run (peer)", "health", *_summary(bare)]]
    results: dict[str, object] = {"bare_streamlit_s": bare}
    scenarios = ("model-on-disk", "provisioned") if args.scenario == "both" else (args.scenario,)
    for scenario in scenarios:
        runs = [run_once(scenario, app) for _ in range(args.runs)]
        results[scenario] = runs
        for key, label in (
            ("health_s", "UI health answers"),
            ("engine_ready_s", "engine ready"),
            ("engine_own_start_s", "  engine process start->ready"),
            ("model_ready_s", "model ready (warm)"),
            ("warm_up_s", "  warm-up request"),
            ("shutdown_s", "SIGTERM -> exit"),
        ):
            rows.append([scenario, label, *_summary([r.get(key) for r in runs])])
        med_health = statistics.median([r["health_s"] for r in runs if r["health_s"]] or [0])
        med_bare = statistics.median([b for b in bare if b] or [1])
        rows.append([scenario, "ratio health / bare streamlit", f"{med_health / med_bare:.2f}", ""])
    print(format_table(["scenario", "seconds since `python startup.py`", "median", "max"], rows))
    path = write_json("startup", {"runs": args.runs, "app": str(app), "results": results})
    print(f"target: UI health <= 8 s with the model on disk; written {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
