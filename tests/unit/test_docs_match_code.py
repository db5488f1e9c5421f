"""The docs name what exists: every file path, module and ``module: Symbol`` pair that README,
DEPLOYMENT, CONTRIBUTING and docs/ mention resolves in the repository, and every database file
they say the data dir holds is one the code writes. A rename that forgets a doc fails here."""

from __future__ import annotations

import ast
import functools
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = sorted(
    [
        ROOT / "README.md",
        ROOT / "DEPLOYMENT.md",
        ROOT / "CONTRIBUTING.md",
        *(ROOT / "docs").rglob("*.md"),
    ]
)
CODE_DIRS = ("src", "shared_utils", "tests", "benchmarks", "scripts")
# Created at run time, so absent from a clean checkout.
MADE_AT_RUN_TIME = {"tests/artifacts", "benchmarks/.cache"}

PATH = re.compile(
    r"(?<![\w./-])((?:src|shared_utils|tests|benchmarks|scripts|docs|models|\.ci)"
    r"/[\w.*/{},-]*[\w*/}])"
)
MODULE_FILE = re.compile(r"(?<![\w./-])([a-z_][a-z0-9_]*\.py)\b")
SYMBOL_PAIR = re.compile(
    r"`((?:[\w-]+/)*[a-z_][a-z0-9_]*\.py): ([A-Za-z_][\w.]*"
    r"(?:(?:, | / )[A-Za-z_][\w.]*)*)`"
)
# ``python -m benchmarks.NAME`` is a placeholder, not a module
RUN_MODULE = re.compile(r"python -m ((?:src|shared_utils|benchmarks)(?:\.[a-z_]\w*)*)(?![.\w<])")
DOTTED = re.compile(r"(?<![\w./-])((?:src|shared_utils)(?:\.[A-Za-z_]\w*)+)")
DB_FILE = re.compile(r"(?<![\w.-])([\w-]+\.(?:sqlite3|sqlite|db))\b")


def _mentions(pattern: re.Pattern[str]) -> list[tuple[str, str]]:
    """(doc, text) for every match of ``pattern`` in the docs (group 1)."""
    return [
        (str(doc.relative_to(ROOT)), m.group(1))
        for doc in DOCS
        for m in pattern.finditer(doc.read_text(encoding="utf-8"))
    ]


@functools.cache
def _python_files() -> dict[str, list[Path]]:
    """File name -> the repository's Python files of that name."""
    out: dict[str, list[Path]] = {}
    for path in [*ROOT.glob("*.py"), *(p for d in CODE_DIRS for p in (ROOT / d).rglob("*.py"))]:
        if ".cache" not in path.parts:
            out.setdefault(path.name, []).append(path)
    return out


def _expand(path: str) -> list[str]:
    """``tests/unit/test_{pdf,text}.py`` -> both paths (a shell brace, as the docs write it)."""
    brace = re.search(r"\{([^{}]*)\}", path)
    if not brace:
        return [path]
    return [
        p
        for option in brace.group(1).split(",")
        for p in _expand(path[: brace.start()] + option + path[brace.end() :])
    ]


def _exists(relative: str) -> bool:
    if re.search(r"\{[^{}]*\}", relative):
        return all(_exists(p) for p in _expand(relative))
    relative = relative.rstrip("/.")
    if any(relative == p or relative.startswith(p + "/") for p in MADE_AT_RUN_TIME):
        return True
    return any(ROOT.glob(relative)) if "*" in relative else (ROOT / relative).exists()


@functools.cache
def _names(path: Path) -> frozenset[str]:
    """``name`` and ``Class.member`` for everything a module defines or assigns at the top."""
    names: set[str] = set()
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            names.add(node.name)
        elif isinstance(node, ast.ClassDef):
            names.add(node.name)
            for member in ast.walk(node):
                if isinstance(member, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    names.add(f"{node.name}.{member.name}")
                elif isinstance(member, (ast.AnnAssign, ast.Assign)):
                    targets = member.targets if isinstance(member, ast.Assign) else [member.target]
                    names |= {f"{node.name}.{t.id}" for t in targets if isinstance(t, ast.Name)}
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names |= {t.id for t in targets if isinstance(t, ast.Name)}
    return frozenset(names)


def _modules_for(mention: str) -> list[Path]:
    """The files a mention such as ``src/pipeline.py`` or a bare ``fusion.py`` can mean."""
    if "/" in mention and (ROOT / mention).is_file():
        return [ROOT / mention]
    return [
        p
        for p in _python_files().get(Path(mention).name, [])
        if str(p.relative_to(ROOT)).endswith(mention)
    ]


def test_every_path_the_docs_mention_exists():
    missing = sorted({f"{doc}: {path}" for doc, path in _mentions(PATH) if not _exists(path)})
    assert not missing, "the docs name files that are not there:\n" + "\n".join(missing)


def test_every_python_file_name_the_docs_mention_exists():
    missing = sorted(
        {f"{doc}: {name}" for doc, name in _mentions(MODULE_FILE) if name not in _python_files()}
    )
    assert not missing, "the docs name modules that are not there:\n" + "\n".join(missing)


def test_every_module_symbol_pair_resolves():
    wrong = []
    for doc, mention in (
        (str(d.relative_to(ROOT)), m)
        for d in DOCS
        for m in SYMBOL_PAIR.finditer(d.read_text(encoding="utf-8"))
    ):
        modules = _modules_for(mention.group(1))
        for symbol in re.split(r", | / ", mention.group(2)):
            if not any(symbol in _names(m) for m in modules):
                wrong.append(f"{doc}: {mention.group(1)}: {symbol}")
    assert not wrong, "the docs name symbols the module does not define:\n" + "\n".join(wrong)


def _resolves(dotted: str) -> bool:
    """``src.answer.prompt`` (a module or package) or ``src.answer.prompt.SYSTEM_PROMPT``."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        base = ROOT.joinpath(*parts[:cut])
        module = (
            base.with_suffix(".py") if base.with_suffix(".py").is_file() else base / "__init__.py"
        )
        if module.is_file():
            rest = ".".join(parts[cut:])
            return not rest or rest in _names(module)
    return False


def test_every_dotted_module_name_the_docs_mention_resolves():
    missing = sorted({f"{doc}: {name}" for doc, name in _mentions(DOTTED) if not _resolves(name)})
    assert not missing, "the docs name modules or symbols that are not there:\n" + "\n".join(
        missing
    )


def test_every_module_the_docs_run_exists():
    missing = sorted(
        {
            f"{doc}: python -m {name}"
            for doc, name in _mentions(RUN_MODULE)
            if not (ROOT / (name.replace(".", "/") + ".py")).is_file()
            and not (ROOT / name.replace(".", "/") / "__main__.py").is_file()
        }
    )
    assert not missing, "the docs run modules that are not there:\n" + "\n".join(missing)


def test_every_database_file_the_docs_name_is_one_the_code_writes():
    code = "\n".join(
        p.read_text(encoding="utf-8")
        for d in ("src", "shared_utils")
        for p in (ROOT / d).rglob("*.py")
    )
    missing = sorted({f"{doc}: {name}" for doc, name in _mentions(DB_FILE) if name not in code})
    assert not missing, "the docs name database files the code never writes:\n" + "\n".join(missing)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("see `src/pipeline.py: RAGPipeline.ask` and", ("src/pipeline.py", "RAGPipeline.ask")),
        ("`fusion.py: rrf`", ("fusion.py", "rrf")),
        (
            "`src/library/ingest.py: safe_name, check_size`",
            ("src/library/ingest.py", "safe_name, check_size"),
        ),
    ],
)
def test_the_pair_pattern_reads_the_forms_the_docs_use(text, expected):
    match = SYMBOL_PAIR.search(text)
    assert match and match.groups() == expected
