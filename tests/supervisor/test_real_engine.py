"""The real thing: startup.py with the real Streamlit app and the real local llama.cpp engine
(``python -m src engine serve`` on the tiny GGUF), warmed up by provisioning."""

from __future__ import annotations

import json
import signal
import urllib.request
from pathlib import Path

from tests.supervisor.conftest import REPO, alive, descendants, free_port, http_ok, wait_for


def test_real_app_and_real_engine_come_up_publish_status_and_stop_cleanly(olympus, tiny_gguf):
    app = REPO / "streamlit_app.py"
    engine_port = free_port()
    o = olympus(
        OLYMPUS_ENGINE="llamacpp",
        OLYMPUS_LLAMACPP_MODEL_PATH=str(tiny_gguf),
        OLYMPUS_LLAMACPP_PORT=str(engine_port),
        OLYMPUS_AUTO_PROVISION="true",
        OLYMPUS_CONTEXT_TOKENS="1024",
        **({"OLYMPUS_STREAMLIT_APP": str(app)} if app.exists() else {}),
    )
    o.wait_healthy(timeout=90)
    st = o.wait_status(
        lambda s: (
            s.get("provisioning", {}).get("phase") in ("ready", "failed")
            and s.get("streamlit", {}).get("state") == "ready"
        ),
        90,
        "model provisioned",
    )
    assert st["provisioning"]["phase"] == "ready", st["provisioning"]
    assert st["provisioning"]["model_path"] == str(tiny_gguf)
    assert st["provisioning"]["warm_up_s"] > 0
    assert st["engine"]["state"] == "ready", (st["engine"], o.log()[-6000:])
    assert st["engine"]["engine"] == "llamacpp"
    assert st["engine"]["url"] == f"http://127.0.0.1:{engine_port}"
    assert st["streamlit"]["state"] == "ready"
    assert st["profile"]["engine"] == "llamacpp" and st["profile"]["context_tokens"] == 1024
    # the engine answers the OpenAI API the chain's hf_inference backend uses
    assert http_ok(f"{st['engine']['url']}/health")
    with urllib.request.urlopen(f"{st['engine']['url']}/v1/models", timeout=5) as resp:
        assert json.load(resp)["data"]
    # the engine child's own JSON log records arrive with their fields, tagged "engine"
    assert any(
        r.get("child") == "engine"
        and r.get("event") == "llama.cpp engine started"
        and "load_s" in r
        for r in o.log_records()
    )

    # the supervisor itself stays light: no torch, no Milvus loaded in its process
    maps = Path(f"/proc/{o.proc.pid}/maps").read_text()
    assert "libtorch" not in maps and "milvus" not in maps

    family = descendants(o.proc.pid)
    assert o.stop(signal.SIGTERM) == 143
    wait_for(lambda: not any(alive(p) for p in family), 30, "children to be gone")
    assert not http_ok(f"http://127.0.0.1:{engine_port}/health")
    assert not http_ok(o.health_url)
