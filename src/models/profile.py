"""Environment profile: what machine Olympus woke up on, and what it chose because of that.

``detect(settings)`` runs once at start. It reads the platform (HF Space variables, container
markers, ``nvidia-smi``, cgroup v1/v2 CPU and memory limits, free disk, the ollama binary)
and derives the engine, model, context size, threads, timeouts, port, address and retrieval
top-k (the backend chain follows from the engine: ``src/models/backends.py``). Every derived value
yields to its ``OLYMPUS_*`` setting, and every choice carries a reason that ``python -m src
doctor`` prints.
"""

from __future__ import annotations

import dataclasses
import math
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog

from src.models.catalog import CatalogEntry, HardwareFacts, load_catalog
from src.models.hardware import (
    affinity_cpus,
    cgroup_cpu_limit,
    cgroup_memory_limit,
    detect_gpus,
    in_container,
    meminfo_total,
    parse_memory,
)
from src.settings import Settings

logger = structlog.get_logger(__name__)

_GIB = 1024**3


@dataclass(frozen=True, slots=True)
class Profile:
    """Detected facts and derived choices. ``reasons`` explain each choice."""

    # detected
    on_space: bool
    space_id: str
    in_container: bool
    gpu_name: str
    gpu_memory_mb: int
    gpu_count: int
    cpu_cores: float  # effective: min(affinity, cgroup quota, Space CPU_CORES)
    memory_bytes: int  # effective: min(MemTotal, cgroup limit, Space MEMORY)
    disk_free_bytes: int
    ollama_path: str
    # derived (each overridable by an OLYMPUS_* setting)
    engine: str  # "ollama" | "llamacpp" | "none"
    model: str  # catalog entry id
    tier: str
    quant: str
    ollama_model: str
    context_tokens: int
    threads: int
    parallel_answers: int  # the engine's slots: answers written at once
    answer_queue: int  # questions that may wait for a slot (one more is refused at once)
    connect_timeout_s: float
    first_token_timeout_s: float
    stall_timeout_s: float
    port: int
    address: str
    top_k: int
    reasons: tuple[str, ...]

    @property
    def memory_gb(self) -> float:
        return self.memory_bytes / _GIB

    @property
    def has_gpu(self) -> bool:
        return self.gpu_count > 0

    def grouped(self) -> dict[str, Any]:
        """``{"detected": {...}, "chosen": {...}, "reasons": [...]}`` for doctor and the UI."""
        flat = self.as_dict()
        reasons = flat.pop("reasons")
        detected = {k: flat.pop(k) for k in DETECTED_FIELDS}
        return {"detected": detected, "chosen": flat, "reasons": reasons}

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready dict (tuples become lists)."""
        out = dataclasses.asdict(self)
        out["reasons"] = list(self.reasons)
        out["memory_gb"] = round(self.memory_gb, 2)
        return out


DETECTED_FIELDS = (
    "on_space",
    "space_id",
    "in_container",
    "gpu_name",
    "gpu_memory_mb",
    "gpu_count",
    "cpu_cores",
    "memory_bytes",
    "memory_gb",
    "disk_free_bytes",
    "ollama_path",
)


# --- derivation ----------------------------------------------------------------------------
def _first_token_timeout(cpus: float, has_gpu: bool) -> tuple[float, str]:
    if has_gpu:
        return 20.0, "GPU: prompts are read fast"
    if cpus >= 8:
        return 30.0, f"{cpus:g} CPUs"
    if cpus >= 4:
        return 45.0, f"{cpus:g} CPUs: prompt reading takes longer"
    return 90.0, f"only {cpus:g} CPUs: reading a long prompt can take a minute"


SLOTS_PER_CORE = 2  # decoding is memory-bound: a second sequence per core is nearly free
MAX_CPU_SLOTS = 4  # more slots on a CPU only split the prompt reading further
MAX_GPU_SLOTS = 8
KV_SHARE = 0.5  # of the memory left beside the model, the most the slots' KV cache may take
KV_BYTES_PER_TOKEN_PER_GB = 30 * 1024  # KV cache (f16) per token per GB of weights, rounded up
QUEUE_PER_SLOT = 4
ZERO_ALLOWED = frozenset({"answer_queue"})  # 0 is a choice here (no waiting), not "unset"


def parallel_answers(
    cpus: float, memory: int, context: int, entry: CatalogEntry, *, has_gpu: bool
) -> tuple[int, str]:
    """The engine's slots (answers written at once, each with the whole context) and why:
    two per core (a GPU: 8), at most 4 on a CPU, and no more than half the memory beside the
    model holds the slots' KV cache (each slot keeps ``context`` tokens).

    >>> from src.models.catalog import load_catalog
    >>> entry = load_catalog(Settings().catalog_path).get("qwen2.5-0.5b-instruct")
    >>> parallel_answers(2, 24 * 1024**3, 4096, entry, has_gpu=False)[0]
    4
    >>> parallel_answers(1, 24 * 1024**3, 4096, entry, has_gpu=False)[0]
    2
    >>> parallel_answers(8, int(1.2 * 1024**3), 32768, entry, has_gpu=False)[0]
    1
    """
    cores = max(1, math.floor(cpus))
    by_cores = MAX_GPU_SLOTS if has_gpu else min(MAX_CPU_SLOTS, SLOTS_PER_CORE * cores)
    per_slot = context * KV_BYTES_PER_TOKEN_PER_GB * entry.size_gb
    spare = max(0.0, memory - entry.ram_gb * _GIB) * KV_SHARE
    by_memory = max(1, int(spare // per_slot)) if per_slot else by_cores
    slots = max(1, min(by_cores, by_memory))
    limit = "memory" if by_memory < by_cores else ("a GPU" if has_gpu else f"{cores} cores")
    return slots, (
        f"limited by {limit} ({context}-token context each, "
        f"~{per_slot / 1024**2:.0f} MiB of KV cache per slot)"
    )


def top_k_for(context_tokens: int) -> int:
    """Sources per question. 5 for small contexts: on the answer set the extract then cites a
    gold page for 0.821 of the questions (4: 0.744, 6: 0.769), and on the held-out set as often
    as with 4 (0.844; benchmarks/README.md, "Sources per answer")."""
    return 5 if context_tokens <= 4096 else 6 if context_tokens <= 8192 else 8


def detect(
    settings: Settings,
    *,
    proc_root: Path = Path("/"),
    run: Callable[..., Any] = subprocess.run,
    disk_usage: Callable[[Any], Any] = shutil.disk_usage,
    which: Callable[[str], str | None] = shutil.which,
) -> Profile:
    """Detect the environment once and derive every choice, with reasons."""
    proc_root = Path(proc_root)
    why: list[str] = []
    on_space = bool(settings.space_id)
    if on_space:
        why.append(f"HF Space {settings.space_id} (SPACE_ID set)")
    container, container_why = in_container(proc_root, on_space)
    why.append(f"{'container' if container else 'bare machine'}: {container_why}")
    cpus = _cpus(settings, proc_root, why)
    memory = _memory(settings, proc_root, why)
    gpus, gpu_why = detect_gpus(settings.cuda_visible_devices, run=run, which=which)
    gpu_name, gpu_mb = (gpus[0][0], gpus[0][1]) if gpus else ("", 0)
    if settings.space_accelerator and not gpus:
        gpu_why += f" (ACCELERATOR={settings.space_accelerator} but no GPU visible)"
    why.append(f"GPU: {gpu_name or 'none'}{f' {gpu_mb} MiB' if gpus else ''} ({gpu_why})")
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    disk_free = int(disk_usage(settings.data_dir).free)
    why.append(f"disk: {disk_free / _GIB:.1f} GiB free in {settings.data_dir}")
    ollama_path = which(settings.ollama_bin) or ""
    engine = _engine(settings, ollama_path, why)
    entry, tier = _model(settings, cpus, memory, gpu_mb, why)
    ollama_model = settings.ollama_model or entry.ollama_name
    if settings.ollama_model:
        why.append(f"ollama model {ollama_model}: OLYMPUS_OLLAMA_MODEL")
    context = _choose(
        settings,
        "context_tokens",
        entry.context_tokens,
        f"catalog default for {entry.id}",
        "context",
        why,
    )
    threads = _choose(
        settings, "threads", max(1, math.floor(cpus)), "one per usable CPU", "threads", why
    )
    slots = _choose(
        settings,
        "parallel_answers",
        *parallel_answers(cpus, memory, context, entry, has_gpu=bool(gpus)),
        "parallel answers",
        why,
    )
    waiting = _choose(
        settings,
        "answer_queue",
        QUEUE_PER_SLOT * slots,
        f"{QUEUE_PER_SLOT} waiting per slot",
        "answer queue",
        why,
    )
    first_token, stall = _deadlines(settings, cpus, bool(gpus), why)
    port, address = _network(settings, on_space, container, why)
    top_k = _choose(
        settings, "top_k", top_k_for(context), f"fits a {context}-token context", "top-k", why
    )
    profile = Profile(
        on_space=on_space,
        space_id=settings.space_id,
        in_container=container,
        gpu_name=gpu_name,
        gpu_memory_mb=gpu_mb,
        gpu_count=len(gpus),
        cpu_cores=cpus,
        memory_bytes=memory,
        disk_free_bytes=disk_free,
        ollama_path=ollama_path,
        engine=engine,
        model=entry.id,
        tier=tier,
        quant=entry.quant,
        ollama_model=ollama_model,
        context_tokens=context,
        threads=threads,
        parallel_answers=slots,
        answer_queue=waiting,
        connect_timeout_s=settings.connect_timeout_s,
        first_token_timeout_s=first_token,
        stall_timeout_s=stall,
        port=port,
        address=address,
        top_k=top_k,
        reasons=tuple(why),
    )
    logger.info(
        "profile detected",
        engine=engine,
        model=entry.id,
        cpus=cpus,
        memory_gb=round(memory / _GIB, 1),
        gpu=gpu_name or None,
        port=port,
    )
    return profile


# --- one choice at a time; each appends its reason to ``why`` --------------------------------
def _cpus(settings: Settings, proc_root: Path, why: list[str]) -> float:
    """Affinity, cgroup quota, Space CPU_CORES: the smallest wins."""
    affinity = affinity_cpus(proc_root)
    quota, quota_why = cgroup_cpu_limit(proc_root)
    cpus = float(affinity)
    cpu_why = [f"{affinity} CPUs in affinity mask"]
    if quota is not None and quota < cpus:
        cpus = quota
        cpu_why.append(f"limited by {quota_why}")
    else:
        cpu_why.append(quota_why)
    space_cpus = _float(settings.space_cpu_cores)
    if space_cpus and space_cpus < cpus:
        cpus = space_cpus
        cpu_why.append(f"CPU_CORES={settings.space_cpu_cores}")
    why.append(f"CPU: {cpus:g} usable ({'; '.join(cpu_why)})")
    return cpus


def _memory(settings: Settings, proc_root: Path, why: list[str]) -> int:
    """MemTotal, cgroup limit, Space MEMORY: the smallest wins."""
    memory = meminfo_total(proc_root)
    mem_why = [f"MemTotal {memory / _GIB:.1f} GiB"]
    limit, limit_why = cgroup_memory_limit(proc_root)
    if limit is not None and (not memory or limit < memory):
        memory = limit
        mem_why.append(f"limited by {limit_why}")
    else:
        mem_why.append(limit_why)
    space_mem = parse_memory(settings.space_memory)
    if space_mem and (not memory or space_mem < memory):
        memory = space_mem
        mem_why.append(f"MEMORY={settings.space_memory}")
    why.append(f"memory: {memory / _GIB:.1f} GiB usable ({'; '.join(mem_why)})")
    return memory


def _engine(settings: Settings, ollama_path: str, why: list[str]) -> str:
    if settings.engine != "auto":
        why.append(f"engine {settings.engine}: OLYMPUS_ENGINE")
        return settings.engine
    if ollama_path:
        why.append(f"engine ollama: binary found at {ollama_path}")
        return "ollama"
    why.append(f"engine llamacpp (in-process llama.cpp): no {settings.ollama_bin!r} binary")
    return "llamacpp"


def _model(
    settings: Settings, cpus: float, memory: int, gpu_mb: int, why: list[str]
) -> tuple[CatalogEntry, str]:
    catalog = load_catalog(settings.catalog_path)
    if settings.model:
        entry = catalog.get(settings.model)
        why.append(f"model {entry.id}: OLYMPUS_MODEL")
        return entry, entry.tier
    facts = HardwareFacts(
        cpus=cpus, ram_gb=memory / _GIB, vram_gb=gpu_mb / 1024, has_hf_token=bool(settings.hf_token)
    )
    choice = catalog.choose(facts)
    why.extend(f"model: {r}" for r in choice.reasons)
    return choice.entry, choice.tier


def _choose(
    settings: Settings, name: str, derived: Any, derived_why: str, label: str, why: list[str]
) -> Any:
    """The setting ``name`` when set, else ``derived``; the reason says which."""
    value = getattr(settings, name)
    if value or (value == 0 and name in ZERO_ALLOWED):
        why.append(f"{label} {value}: OLYMPUS_{name.upper()}")
        return value
    why.append(f"{label} {derived}: {derived_why}")
    return derived


def _deadlines(
    settings: Settings, cpus: float, has_gpu: bool, why: list[str]
) -> tuple[float, float]:
    """First-token and stall deadlines."""
    explicit = settings.model_fields_set
    if "first_token_timeout_s" in explicit:
        first_token = settings.first_token_timeout_s
        why.append(f"first-token deadline {first_token:g}s: OLYMPUS_FIRST_TOKEN_TIMEOUT_S")
    else:
        first_token, ft_why = _first_token_timeout(cpus, has_gpu)
        why.append(f"first-token deadline {first_token:g}s: {ft_why}")
    if "stall_timeout_s" in explicit or has_gpu or cpus >= 4:
        return first_token, settings.stall_timeout_s
    stall = max(settings.stall_timeout_s, 30.0)
    why.append(f"stall deadline {stall:g}s: slow CPU, tokens come slowly under load")
    return first_token, stall


def _network(
    settings: Settings, on_space: bool, container: bool, why: list[str]
) -> tuple[int, str]:
    if settings.port:
        port = settings.port
        why.append(f"port {port}: OLYMPUS_PORT")
    else:
        port = 7860 if on_space else 8501
        why.append(f"port {port}: {'HF Spaces expect 7860' if on_space else 'Streamlit default'}")
    if settings.address:
        why.append(f"address {settings.address}: OLYMPUS_ADDRESS")
        return port, settings.address
    address = "0.0.0.0" if container else "127.0.0.1"
    why.append(
        f"address {address}: "
        + (
            "reachable through the container's port mapping"
            if container
            else "private to this machine"
        )
    )
    return port, address


def _float(text: str) -> float | None:
    try:
        return float(text) if text.strip() else None
    except ValueError:
        return None
