"""``python -m src doctor [--json]`` on this real machine, as a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from src.status import StatusFile
from tests.doubles.ollama_server import OllamaDouble

ROOT = Path(__file__).resolve().parents[2]


def doctor(data_dir: Path, *args: str, **env_extra: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OLYMPUS_")}
    env.update(
        OLYMPUS_DATA_DIR=str(data_dir),
        OLYMPUS_LOG_FORMAT="console",
        PYTHONPATH=str(ROOT),
        **env_extra,
    )
    return subprocess.run(
        [sys.executable, "-m", "src", "doctor", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )


def test_json_report_schema_on_this_machine(data_dir):
    StatusFile(data_dir / "status.json").update("provisioning", phase="download", percent=42.0)
    proc = doctor(data_dir, "--json", OLYMPUS_LLAMACPP_PORT="9")
    assert proc.returncode in (0, 1), proc.stderr
    report = json.loads(proc.stdout)
    assert report["schema_version"] == 1
    assert set(report) == {
        "schema_version",
        "profile",
        "backends",
        "components",
        "status",
        "warnings",
        "ok",
    }
    det, chosen = report["profile"]["detected"], report["profile"]["chosen"]
    assert det["cpu_cores"] == len(os.sched_getaffinity(0)) and det["memory_gb"] > 0
    assert {"engine", "model", "context_tokens", "threads", "port", "backend_chain"} <= set(chosen)
    assert any(r.startswith("engine") for r in report["profile"]["reasons"])
    engine = report["components"]["engine"]
    assert engine["ok"] is False and "not reachable" in engine["detail"]  # nothing on port 9
    assert {"engine", "model"} <= set(report["components"])
    assert all("ok" in c and "detail" in c for c in report["components"].values())
    assert report["status"]["provisioning"]["percent"] == 42.0
    assert report["ok"] is False and proc.returncode == 1
    assert any("No language model can answer" in w for w in report["warnings"])
    assert report["components"]["hf_inference"]["set_up"] is False  # optional: not a failure


def test_offline_fallback_is_degraded_not_failed(data_dir):
    """Hub unreachable, the bundled model imported instead: exit 0, and a warning names the
    fallback and how to get the recommended model; doctor reports the model that answers."""
    fallback = "smollm2-135m-instruct:q4_1"
    StatusFile(data_dir / "status.json").update(
        "provisioning",
        phase="ready",
        source="offline-fallback",
        model="smollm2-135m-offline",
        ollama_model=fallback,
        notes=["Hub unreachable (no network)"],
    )
    with OllamaDouble(models=[fallback]) as ollama:
        proc = doctor(
            data_dir,
            "--json",
            "--no-pipeline",
            OLYMPUS_ENGINE="ollama",
            OLYMPUS_OLLAMA_HOST=ollama.url,
        )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads(proc.stdout)
    assert report["components"]["model"] == {"ok": True, "model": fallback, "detail": "in Ollama"}
    # Ollama reports 135M parameters (/api/show): too small to write, the extracts answer
    answering = f"source extracts (model {fallback} is too small to write)"
    assert report["profile"]["chosen"]["answering_model"] == answering
    warning = " ".join(report["warnings"])
    assert f"Answering now: {answering}" in warning and "models pull" in warning
    assert report["profile"]["chosen"]["model"] in warning  # the recommended one, by name


def test_text_report_with_a_healthy_ollama(data_dir):
    with OllamaDouble(models=["qwen2.5-0.5b-instruct:q4_k_m"]) as ollama:
        proc = doctor(
            data_dir,
            "--no-pipeline",
            OLYMPUS_ENGINE="ollama",
            OLYMPUS_OLLAMA_HOST=ollama.url,
            OLYMPUS_MODEL="qwen2.5-0.5b-instruct",
        )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    for heading in ("Detected", "Chosen", "Why", "Health", "Status file"):
        assert heading in out
    assert "[ok  ] engine" in out and "[ok  ] model" in out
    assert "ollama -> hf_inference -> extractive" in out
