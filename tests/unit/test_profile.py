"""Environment profile: fake /proc and cgroup trees, Space variables, a fake nvidia-smi."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from types import SimpleNamespace

from src.models.hardware import parse_memory
from src.models.profile import detect
from src.settings import load_settings

GIB = 1024**3


def fake_root(
    tmp_path: Path,
    *,
    cpus: str = "0-7",
    mem_kb: int = 32 * 1024**2,
    cgroup: str = "0::/\n",
    files: dict[str, str] | None = None,
) -> Path:
    root = tmp_path / "root"
    (root / "proc/self").mkdir(parents=True)
    (root / "proc/meminfo").write_text(f"MemTotal:       {mem_kb} kB\nMemFree: 1 kB\n")
    (root / "proc/self/status").write_text(f"Name:\tpython\nCpus_allowed_list:\t{cpus}\n")
    (root / "proc/self/cgroup").write_text(cgroup)
    for rel, text in (files or {}).items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


def no_gpu_which(name: str) -> str | None:
    return None


def big_disk(path) -> SimpleNamespace:
    return SimpleNamespace(free=500 * GIB, total=1000 * GIB, used=500 * GIB)


def run_detect(settings, root, **kw):
    kw.setdefault("which", no_gpu_which)
    kw.setdefault("disk_usage", big_disk)
    return detect(settings, proc_root=root, **kw)


def test_cgroup_v2_limits_win_over_the_host(tmp_path, data_dir):
    root = fake_root(
        tmp_path,
        files={
            "sys/fs/cgroup/cpu.max": "150000 100000\n",
            "sys/fs/cgroup/memory.max": f"{4 * GIB}\n",
        },
    )
    p = run_detect(load_settings(data_dir=data_dir), root)
    assert p.cpu_cores == 1.5
    assert p.memory_bytes == 4 * GIB
    assert p.threads == 1
    assert p.model == "qwen2.5-0.5b-instruct" and p.tier == "cpu-small"
    assert any("cgroup v2 cpu.max 150000 100000" in r for r in p.reasons)
    assert p.first_token_timeout_s > 60  # a small CPU gets a patient deadline


def test_cgroup_v1_quota_and_memory_limit_in_a_nested_group(tmp_path, data_dir):
    root = fake_root(
        tmp_path,
        cgroup="4:memory:/docker/abc\n2:cpu,cpuacct:/docker/abc\n",
        files={
            "sys/fs/cgroup/cpu,cpuacct/docker/abc/cpu.cfs_quota_us": "400000\n",
            "sys/fs/cgroup/cpu,cpuacct/docker/abc/cpu.cfs_period_us": "100000\n",
            "sys/fs/cgroup/memory/docker/abc/memory.limit_in_bytes": f"{10 * GIB}\n",
            "sys/fs/cgroup/memory/memory.limit_in_bytes": "9223372036854771712\n",
        },
    )
    p = run_detect(load_settings(data_dir=data_dir), root)
    assert p.cpu_cores == 4 and p.memory_bytes == 10 * GIB
    assert p.model == "qwen2.5-1.5b-instruct" and p.context_tokens == 8192
    assert p.threads == 4


def test_unlimited_cgroups_fall_back_to_affinity_and_meminfo(tmp_path, data_dir):
    root = fake_root(
        tmp_path,
        cpus="0-3,6",
        mem_kb=6 * 1024**2,
        files={
            "sys/fs/cgroup/cpu.max": "max 100000\n",
            "sys/fs/cgroup/memory.max": "max\n",
        },
    )
    p = run_detect(load_settings(data_dir=data_dir), root)
    assert p.cpu_cores == 5 and p.memory_bytes == 6 * GIB
    assert p.tier == "cpu-small"  # 5 CPUs but only 6 GB: cpu-medium needs 8 GB
    assert any("tier cpu-medium skipped" in r and "RAM" in r for r in p.reasons)


def test_hf_space_port_address_and_advertised_hardware(tmp_path, data_dir):
    root = fake_root(tmp_path)
    s = load_settings(
        data_dir=data_dir,
        space_id="someone/olympus",
        space_host="x.hf.space",
        space_cpu_cores="2",
        space_memory="16Gi",
    )
    p = run_detect(s, root)
    assert p.on_space and p.in_container
    assert p.port == 7860 and p.address == "0.0.0.0"
    assert p.cpu_cores == 2 and p.memory_bytes == 16 * GIB
    assert p.model == "qwen2.5-0.5b-instruct"


def test_bare_machine_binds_localhost_on_8501(tmp_path, data_dir):
    p = run_detect(load_settings(data_dir=data_dir), fake_root(tmp_path))
    assert not p.in_container and p.port == 8501 and p.address == "127.0.0.1"
    assert p.engine == "llamacpp"


def _nvidia(stdout: str, calls: list):
    def run(cmd, **kw):
        calls.append(cmd)
        return subprocess.CompletedProcess(cmd, 0, stdout=stdout, stderr="")

    return run


def test_gpu_respects_cuda_visible_devices(tmp_path, data_dir):
    root = fake_root(tmp_path)
    calls: list = []
    which = lambda n: "/usr/bin/nvidia-smi" if n == "nvidia-smi" else None  # noqa: E731
    smi = "NVIDIA A10G, 23028\nTesla T4, 15360\n"
    p = run_detect(
        load_settings(data_dir=data_dir, cuda_visible_devices="1"),
        root,
        run=_nvidia(smi, calls),
        which=which,
    )
    assert p.gpu_name == "Tesla T4" and p.gpu_memory_mb == 15360 and p.gpu_count == 1
    assert p.tier == "gpu-16gb" and p.model == "qwen2.5-7b-instruct"
    assert calls[0][1:] == ["--query-gpu=name,memory.total", "--format=csv,noheader,nounits"]

    p = run_detect(load_settings(data_dir=data_dir), root, run=_nvidia(smi, calls), which=which)
    assert p.gpu_name == "NVIDIA A10G" and p.model == "qwen2.5-14b-instruct"
    assert p.first_token_timeout_s < 30

    calls.clear()
    p = run_detect(
        load_settings(data_dir=data_dir, cuda_visible_devices="-1"),
        root,
        run=_nvidia(smi, calls),
        which=which,
    )
    assert p.gpu_count == 0 and calls == []
    assert any("hides all GPUs" in r for r in p.reasons)


def test_failing_nvidia_smi_means_no_gpu_with_a_reason(tmp_path, data_dir):
    def broken(cmd, **kw):
        return subprocess.CompletedProcess(cmd, 9, stdout="", stderr="NVIDIA-SMI has failed")

    p = run_detect(
        load_settings(data_dir=data_dir),
        fake_root(tmp_path),
        run=broken,
        which=lambda n: "/usr/bin/" + n if n == "nvidia-smi" else None,
    )
    assert p.gpu_count == 0 and any("NVIDIA-SMI has failed" in r for r in p.reasons)


def test_ollama_binary_selects_the_ollama_chain(tmp_path, data_dir):
    which = lambda n: "/usr/local/bin/ollama" if n == "ollama" else None  # noqa: E731
    p = run_detect(load_settings(data_dir=data_dir), fake_root(tmp_path), which=which)
    assert p.engine == "ollama" and p.ollama_path == "/usr/local/bin/ollama"
    assert p.ollama_model == "qwen2.5-3b-instruct:q4_k_m"  # 8 CPUs / 32 GB, no token: cpu-large


def test_gated_model_needs_a_token(tmp_path, data_dir):
    root = fake_root(tmp_path, cpus="0-11")
    p = run_detect(load_settings(data_dir=data_dir), root)
    assert p.model == "qwen2.5-3b-instruct"
    assert any("llama-3.2-3b-instruct skipped: gated" in r for r in p.reasons)
    p = run_detect(load_settings(data_dir=data_dir, hf_token="hf_x"), root)
    assert p.model == "llama-3.2-3b-instruct"


def test_every_choice_yields_to_its_setting(tmp_path, data_dir, monkeypatch):
    env = {
        "OLYMPUS_MODEL": "qwen2.5-3b-instruct",
        "OLYMPUS_CONTEXT_TOKENS": "3000",
        "OLYMPUS_THREADS": "3",
        "OLYMPUS_PORT": "9000",
        "OLYMPUS_ADDRESS": "10.0.0.5",
        "OLYMPUS_TOP_K": "11",
        "OLYMPUS_BACKENDS": "extractive",
        "OLYMPUS_ENGINE": "none",
        "OLYMPUS_FIRST_TOKEN_TIMEOUT_S": "12",
        "OLYMPUS_OLLAMA_MODEL": "mine:latest",
        "OLYMPUS_DATA_DIR": str(data_dir),
    }
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    p = run_detect(load_settings(), fake_root(tmp_path))
    assert (p.model, p.context_tokens, p.threads, p.port, p.address, p.top_k) == (
        "qwen2.5-3b-instruct",
        3000,
        3,
        9000,
        "10.0.0.5",
        11,
    )
    assert p.engine == "none"
    assert p.first_token_timeout_s == 12 and p.ollama_model == "mine:latest"
    for name in (
        "OLYMPUS_MODEL",
        "OLYMPUS_CONTEXT_TOKENS",
        "OLYMPUS_THREADS",
        "OLYMPUS_PORT",
        "OLYMPUS_ADDRESS",
        "OLYMPUS_TOP_K",
        "OLYMPUS_ENGINE",
        "OLYMPUS_FIRST_TOKEN_TIMEOUT_S",
    ):
        assert any(name in r for r in p.reasons), name


def test_as_dict_and_grouped_are_json_ready(tmp_path, data_dir):
    p = run_detect(load_settings(data_dir=data_dir), fake_root(tmp_path))
    grouped = json.loads(json.dumps(p.grouped()))
    assert grouped["detected"]["cpu_cores"] == 8
    assert grouped["chosen"]["engine"] == "llamacpp"
    assert grouped["reasons"] == list(p.reasons)


def test_doctor_prints_every_field_of_the_profile(tmp_path, data_dir):
    """``doctor --json`` reads the profile through its schema model, which drops a field it
    does not know: a new Profile field must be given a place in ``src/schema/reports.py``."""
    from src.schema.reports import DoctorProfile, report_json

    p = run_detect(load_settings(data_dir=data_dir), fake_root(tmp_path))
    grouped = json.loads(json.dumps(p.grouped()))
    grouped["chosen"].update(backend_chain=["llamacpp", "extractive"], answering_model="m")
    assert report_json(DoctorProfile.model_validate(grouped)) == grouped


def test_parse_memory_units():
    assert parse_memory("16Gi") == 16 * GIB
    assert parse_memory("16GB") == 16 * GIB
    assert parse_memory("123") == 123
    assert parse_memory("") is None and parse_memory("lots") is None


def test_this_real_machine(settings):
    """2 cores, ~24 GB, no GPU, no ollama binary (the CI box this suite is written on)."""
    p = detect(settings)
    assert p.cpu_cores == len(os.sched_getaffinity(0))
    meminfo = next(
        int(line.split()[1]) * 1024
        for line in Path("/proc/meminfo").read_text().splitlines()
        if line.startswith("MemTotal:")
    )
    assert 0 < p.memory_bytes <= meminfo
    assert p.disk_free_bytes > 0
    if not os.path.exists("/usr/bin/nvidia-smi"):
        assert p.gpu_count == 0
    import shutil

    if shutil.which("ollama") is None:
        assert p.engine == "llamacpp"
    assert p.port == 8501 and p.model in {"qwen2.5-0.5b-instruct", "qwen2.5-1.5b-instruct"}
    assert p.threads == max(1, int(p.cpu_cores))


def test_parallel_answers_follow_cores_and_memory_and_yield_to_the_setting(tmp_path, data_dir):
    two_cores = run_detect(load_settings(data_dir=data_dir), fake_root(tmp_path, cpus="0-1"))
    assert two_cores.parallel_answers == 4  # two per core, at most 4 on a CPU
    assert two_cores.answer_queue == 16
    assert any(r.startswith("parallel answers 4: limited by 2 cores") for r in two_cores.reasons)
    one_core = run_detect(
        load_settings(data_dir=data_dir), fake_root(tmp_path / "one", cpus="0", mem_kb=4 * 1024**2)
    )
    assert one_core.parallel_answers == 2
    # memory leaves room for one slot's KV cache only (a 32k context on a small machine)
    tight = run_detect(
        load_settings(data_dir=data_dir, context_tokens=262_144),
        fake_root(tmp_path / "tight", cpus="0-7", mem_kb=3 * 1024**2),
    )
    assert tight.parallel_answers < 4
    assert any("limited by memory" in r for r in tight.reasons)
    chosen = run_detect(
        load_settings(data_dir=data_dir, parallel_answers=1, answer_queue=0),
        fake_root(tmp_path / "set"),
    )
    assert (chosen.parallel_answers, chosen.answer_queue) == (1, 0)
    assert "parallel answers 1: OLYMPUS_PARALLEL_ANSWERS" in chosen.reasons
