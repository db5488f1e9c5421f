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


def test_the_warm_up_puts_the_shared_prompt_in_every_slots_cache():
    # two questions at once right after start-up: without the warm-up of every slot, the slot
    # the one warm-up request did not touch read the whole system prompt again
    from concurrent.futures import ThreadPoolExecutor

    import httpx

    from shared_utils.llamacpp_engine import LlamaCppEngine
    from src.answer.prompt import SOURCES_HEADER, SYSTEM_PROMPT
    from src.models.model_files import bundled_gguf
    from src.supervisor.provisioner import llamacpp_warm_up

    def ask(url: str, text: str) -> dict:
        body = {
            "messages": [
                {"role": "system", "content": SYSTEM_PROMPT},
                {"role": "user", "content": f"{SOURCES_HEADER}\n{text}"},
            ],
            "max_tokens": 16,
        }
        return httpx.post(f"{url}/v1/chat/completions", json=body, timeout=300).json()["timings"]

    with LlamaCppEngine(bundled_gguf(), port=0, ctx=1024, parallel=2) as engine:
        engine.wait_ready(120)
        assert llamacpp_warm_up(engine.url, 300, slots=2) > 0
        with ThreadPoolExecutor(2) as pool:
            timings = list(pool.map(lambda q: ask(engine.url, q), ["What is a UPS?", "Why?"]))
    system_tokens = 40  # the system prompt alone is well over this many tokens
    assert all(t["cache_n"] >= system_tokens for t in timings), timings
