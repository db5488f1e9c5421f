"""``python -m src doctor [--json]``: what Olympus detected, what it chose and why, and health.

Components: the engine (Ollama ``/api/version`` or llama.cpp ``/health``), the model (on disk /
in Ollama), stores and backends (``RAGPipeline.health()``), and the supervisor's status file.
Exit code 0 when the stores are healthy and a language model can answer (the engine with its
model, or another backend of the chain), even when that model is a small offline fallback
(a warning then names it and says how to get the recommended one); 1 when the stores fail or
only the extractive answer is left; 2 for a configuration error.
"""

from __future__ import annotations

import argparse
import contextlib
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shared_utils.errors import OlympusError
from shared_utils.redact import scrub
from src.schema.plans import Plan
from src.schema.reports import ComponentHealth, DoctorProfile, DoctorReport, report_json
from src.schema.status import read_status
from src.settings import Settings
from src.status import StatusFile

if TYPE_CHECKING:
    from src.models.profile import Profile

SCHEMA_VERSION = 1


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("doctor", help="show the environment profile and component health")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument(
        "--no-pipeline",
        action="store_true",
        help="skip opening the stores (faster; no store/backend health)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    # no credentials on screen or in the JSON: URLs lose user:password@, secrets are masked
    report = scrub(
        report_json(build_report(settings, pipeline=not args.no_pipeline)),
        settings.secret_values(),
    )
    if args.json:
        print(json.dumps(report, indent=1, default=str))
    else:
        _render(report)
    return 0 if report["ok"] else 1


def build_report(settings: Settings, *, pipeline: bool = True) -> DoctorReport:
    from src.answer.answering import answering_now
    from src.models.backends import ENGINE_BACKENDS, SAFETY_NET, plan_backends
    from src.models.profile import detect
    from src.status import StatusFile

    profile = detect(settings)
    status = StatusFile(settings.status_path).read()
    plan = plan_backends(settings, profile, status=status)
    engine_model = plan.model(ENGINE_BACKENDS.get(profile.engine, ""))
    components: dict[str, dict[str, Any]] = {
        "engine": engine_health(settings, profile.engine),
        "model": model_health(settings, profile, engine_model),
    }
    if pipeline:
        components.update(pipeline_health(settings, profile))
    grouped = profile.grouped()
    grouped["chosen"]["backend_chain"] = list(plan.names)
    answering = answering_now(settings, profile)
    grouped["chosen"]["answering_model"] = answering.name
    grouped["reasons"].extend(plan.reasons)
    warnings = [answering.note] if answering.note else []
    engine_answers = profile.engine != "none" and all(
        components[c].get("ok") for c in ("engine", "model")
    )
    other_answers = [
        n
        for n in plan.names
        if n not in (SAFETY_NET, ENGINE_BACKENDS.get(profile.engine))
        and components.get(n, {}).get("ok")
    ]
    if not engine_answers and not other_answers:
        warnings.append(
            "No language model can answer: only the extractive answer (passages "
            "from the documents) is left."
        )
    stores_ok = all(
        bool(c.get("ok"))
        for name, c in components.items()
        if name not in ("engine", "model") and name not in plan.names
    )
    return DoctorReport(
        schema_version=SCHEMA_VERSION,
        profile=DoctorProfile.model_validate(grouped),
        backends=Plan.model_validate(plan.as_dict()),
        components={n: ComponentHealth.model_validate(c) for n, c in components.items()},
        status=read_status(status)[0],  # a section written wrong reads as its defaults
        warnings=warnings,
        ok=stores_ok and (engine_answers or bool(other_answers)),
    )


def engine_health(settings: Settings, engine: str, *, timeout: float = 2.0) -> dict[str, Any]:
    import httpx

    if engine == "none":
        return {"ok": True, "detail": "no engine configured (OLYMPUS_ENGINE=none)"}
    if engine == "ollama":
        url = f"{settings.ollama_host.rstrip('/')}/api/version"
    else:
        url = f"http://127.0.0.1:{settings.llamacpp_port}/health"
    try:
        resp = httpx.get(url, timeout=timeout)
    except httpx.HTTPError as exc:
        return {
            "ok": False,
            "url": url,
            "detail": f"{engine} not reachable ({type(exc).__name__}); start it with python startup.py",
        }
    body: Any = resp.text[:200]
    with contextlib.suppress(ValueError):
        body = resp.json()
    return {"ok": resp.status_code == 200, "url": url, "detail": body}


def model_health(settings: Settings, profile: Profile, name: str) -> dict[str, Any]:
    """Whether the model the chain will use (``src/models/backends.py``) is there."""
    from src.models.active import read_active
    from src.models.catalog import load_catalog
    from src.models.model_files import entry_paths

    if profile.engine == "none":
        return {"ok": True, "model": "", "detail": "no engine"}
    if profile.engine == "ollama":
        from shared_utils.ollama_models import OllamaModels

        models = OllamaModels(settings.ollama_host, timeout_s=5)
        try:
            present = bool(name) and models.has(name)
        except OlympusError as exc:
            return {"ok": False, "model": name, "detail": str(exc)}
        finally:
            models.close()
        return {
            "ok": present,
            "model": name,
            "detail": "in Ollama" if present else "not in Ollama yet (provisioning imports it)",
        }
    served = StatusFile(settings.status_path).typed().engine.model
    path = settings.llamacpp_model_path or served or read_active(settings).get("path") or ""
    if path:
        return {"ok": Path(path).is_file(), "model": name, "path": path, "detail": "GGUF file"}
    catalog = load_catalog(settings.catalog_path)
    entry = next((e for e in catalog.entries if e.id == name), None) or catalog.get(profile.model)
    try:
        paths = entry_paths(settings, entry)
    except OlympusError as exc:
        return {"ok": False, "model": entry.id, "detail": str(exc)}
    if paths:
        return {"ok": True, "model": entry.id, "path": str(paths[0]), "detail": "on disk"}
    return {
        "ok": False,
        "model": entry.id,
        "detail": f"not downloaded yet: python -m src models pull {entry.id}",
    }


def pipeline_health(settings: Settings, profile: Profile) -> dict[str, dict[str, Any]]:
    """The health of every part, from the running service's pipeline when one answers (it
    holds the stores), else from one opened here; while startup.py is still starting its
    service, a failing ``pipeline`` that says so (no wait: doctor shows the progress)."""
    from src.cli import service

    try:
        with service.pipeline(settings, lambda: profile, wait_s=0) as pipe:
            health = pipe.health()
    except ModuleNotFoundError as exc:
        return {"pipeline": {"ok": False, "detail": f"not available: {exc}"}}
    except OlympusError as exc:
        return {"pipeline": {"ok": False, "detail": str(exc)}}
    return {
        name: dict(value) if isinstance(value, dict) else {"ok": bool(value)}
        for name, value in health.items()
    }


def _render(report: dict[str, Any]) -> None:
    prof = report["profile"]
    det, chosen = prof["detected"], prof["chosen"]
    print("Detected")
    platform = (
        "HF Space " + det["space_id"]
        if det["on_space"]
        else "container"
        if det["in_container"]
        else "bare machine"
    )
    print(f"  platform   {platform}")
    print(f"  CPU        {det['cpu_cores']:g} usable cores")
    print(f"  memory     {det['memory_gb']:.1f} GiB")
    gpu = f"{det['gpu_name']} ({det['gpu_memory_mb']} MiB)" if det["gpu_count"] else "none"
    print(f"  GPU        {gpu}")
    print(f"  disk free  {det['disk_free_bytes'] / 1024**3:.1f} GiB")
    print(f"  ollama     {det['ollama_path'] or 'not installed'}")
    print("Chosen")
    for key in (
        "engine",
        "model",
        "answering_model",
        "quant",
        "context_tokens",
        "threads",
        "first_token_timeout_s",
        "port",
        "address",
        "top_k",
        "backend_chain",
    ):
        value = chosen[key]
        print(f"  {key:<22} {' -> '.join(value) if isinstance(value, list) else value}")
    print("Why")
    for reason in prof["reasons"]:
        print(f"  - {reason}")
    print("Health")
    for name, comp in report["components"].items():
        mark = "ok  " if comp.get("ok") else "----" if comp.get("set_up") is False else "FAIL"
        detail = comp.get("detail", "")
        print(
            f"  [{mark}] {name:<14} {json.dumps(detail) if isinstance(detail, (dict, list)) else detail}"
        )
    for warning in report.get("warnings", []):
        print(f"Warning: {warning}")
    status = report["status"]
    print("Status file" + ("" if status else ": none yet (the supervisor writes it)"))
    for section, fields in sorted(status.items()):
        if isinstance(fields, dict):
            shown = {k: v for k, v in fields.items() if k != "updated_at" and v not in ("", None)}
            print(f"  {section:<13} {json.dumps(shown, default=str)[:200]}")
