"""Hardware facts read from the platform, for the environment profile (``src/models/profile.py``).

Everything is read under ``proc_root`` (``/`` in production, a fake tree in tests): cgroup v2
``cpu.max``/``memory.max`` and v1 ``cpu.cfs_quota_us``/``memory.limit_in_bytes`` (the
process's own group from ``/proc/self/cgroup`` first, then the mount root), the affinity mask,
``/proc/meminfo``, container markers; GPUs come from ``nvidia-smi`` through an injected ``run``.
Each reader returns its value and a "why" string.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

_UNLIMITED = 1 << 60  # cgroup v1 reports "no limit" as a huge number (9223372036854771712)
NVIDIA_SMI_ARGS = ("--query-gpu=name,memory.total", "--format=csv,noheader,nounits")


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return None


def _cgroup_paths(proc_root: Path) -> dict[str, str]:
    """controller -> cgroup path of this process, from /proc/self/cgroup ("" = v2)."""
    out: dict[str, str] = {}
    for line in (_read(proc_root / "proc/self/cgroup") or "").splitlines():
        parts = line.split(":", 2)
        if len(parts) == 3:
            for ctrl in parts[1].split(",") if parts[1] else [""]:
                out[ctrl] = parts[2]
    return out


def _candidates(proc_root: Path, mount: str, rel: str, name: str) -> list[Path]:
    base = proc_root / "sys/fs/cgroup" / mount if mount else proc_root / "sys/fs/cgroup"
    paths = [base / name]
    if rel and rel != "/":
        paths.insert(0, base / rel.lstrip("/") / name)
    return paths


def cgroup_cpu_limit(proc_root: Path) -> tuple[float | None, str]:
    """CPU quota in cores from cgroup v2 ``cpu.max`` or v1 ``cpu.cfs_quota_us``."""
    groups = _cgroup_paths(proc_root)
    for path in _candidates(proc_root, "", groups.get("", ""), "cpu.max"):
        text = _read(path)
        if text:
            quota, _, period = text.partition(" ")
            if quota == "max":
                return None, f"cgroup v2 {path.name}: no CPU limit"
            return int(quota) / int(period or 100000), f"cgroup v2 cpu.max {text}"
    for mount in ("cpu", "cpu,cpuacct", "cpuacct,cpu"):
        for path in _candidates(proc_root, mount, groups.get("cpu", ""), "cpu.cfs_quota_us"):
            quota_us = _read(path)
            if quota_us is None:
                continue
            period = _read(path.with_name("cpu.cfs_period_us")) or "100000"
            if int(quota_us) <= 0:
                return None, "cgroup v1: no CPU quota"
            return int(quota_us) / int(period), f"cgroup v1 cpu.cfs_quota_us {quota_us}/{period}"
    return None, "no cgroup CPU limit found"


def cgroup_memory_limit(proc_root: Path) -> tuple[int | None, str]:
    """Memory limit in bytes from cgroup v2 ``memory.max`` or v1 ``memory.limit_in_bytes``."""
    groups = _cgroup_paths(proc_root)
    for path in _candidates(proc_root, "", groups.get("", ""), "memory.max"):
        text = _read(path)
        if text:
            if text == "max":
                return None, "cgroup v2 memory.max: no limit"
            return int(text), f"cgroup v2 memory.max {text}"
    for path in _candidates(proc_root, "memory", groups.get("memory", ""), "memory.limit_in_bytes"):
        text = _read(path)
        if text:
            value = int(text)
            if value >= _UNLIMITED:
                return None, "cgroup v1 memory.limit_in_bytes: no limit"
            return value, f"cgroup v1 memory.limit_in_bytes {value}"
    return None, "no cgroup memory limit found"


def affinity_cpus(proc_root: Path) -> int:
    if proc_root == Path("/") and hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    for line in (_read(proc_root / "proc/self/status") or "").splitlines():
        if line.startswith("Cpus_allowed_list:"):
            count = 0
            for part in line.split(":", 1)[1].strip().split(","):
                lo, _, hi = part.partition("-")
                count += int(hi or lo) - int(lo) + 1
            return count
    return os.cpu_count() or 1


def meminfo_total(proc_root: Path) -> int:
    for line in (_read(proc_root / "proc/meminfo") or "").splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) * 1024
    return 0


def parse_memory(text: str) -> int | None:
    """Space ``MEMORY`` values like ``16Gi``, ``16G``, ``16GB`` or bytes.

    >>> parse_memory("16Gi") == 16 * 1024**3
    True
    >>> parse_memory("512Mi") == 512 * 1024**2
    True
    """
    text = text.strip()
    if not text:
        return None
    units = {"k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}
    num = text.rstrip("iIbB")
    unit = num[-1:].lower()
    try:
        if unit in units:
            return int(float(num[:-1]) * units[unit])
        return int(float(num))
    except ValueError:
        return None


def detect_gpus(
    visible: str | None, *, run: Callable[..., Any], which: Callable[[str], str | None]
) -> tuple[list[tuple[str, int]], str]:
    """[(name, memory MiB)] of the GPUs this process may use, and why."""
    if visible is not None and visible.strip() in ("", "-1"):
        return [], f"CUDA_VISIBLE_DEVICES={visible!r} hides all GPUs"
    exe = which("nvidia-smi")
    if not exe:
        return [], "no nvidia-smi: no NVIDIA GPU"
    try:
        proc = run([exe, *NVIDIA_SMI_ARGS], capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError) as exc:
        return [], f"nvidia-smi failed: {exc}"
    if proc.returncode != 0:
        return [], f"nvidia-smi exited {proc.returncode}: {(proc.stderr or '').strip()[:200]}"
    gpus: list[tuple[str, int]] = []
    for line in (proc.stdout or "").splitlines():
        name, _, mem = line.rpartition(",")
        if name.strip() and mem.strip().isdigit():
            gpus.append((name.strip(), int(mem.strip())))
    if visible:
        wanted = [v.strip() for v in visible.split(",") if v.strip()]
        if all(w.isdigit() for w in wanted):
            gpus = [g for i, g in enumerate(gpus) if str(i) in wanted]
        else:
            gpus = gpus[: len(wanted)]
        return gpus, f"nvidia-smi, limited by CUDA_VISIBLE_DEVICES={visible}"
    return gpus, "nvidia-smi"


def in_container(proc_root: Path, on_space: bool) -> tuple[bool, str]:
    for marker in (".dockerenv", "run/.containerenv"):
        if (proc_root / marker).exists():
            return True, f"/{marker} exists"
    cg = _read(proc_root / "proc/1/cgroup") or ""
    if any(word in cg for word in ("docker", "kubepods", "containerd", "libpod")):
        return True, "/proc/1/cgroup names a container runtime"
    if on_space:
        return True, "HF Spaces run in containers"
    return False, "no container markers"
