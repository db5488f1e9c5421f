"""docs/api.md's schema section is written from the models: a model changed without running
``scripts/schema_docs.py`` fails here."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _script():
    spec = importlib.util.spec_from_file_location("schema_docs", ROOT / "scripts/schema_docs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_schema_section_of_the_api_docs_is_the_models():
    script = _script()
    assert script.main(["--check"]) == 0, "run: python scripts/schema_docs.py"


def test_every_model_of_the_schema_is_documented():
    import importlib
    import inspect
    import pkgutil

    from pydantic import BaseModel

    import src.schema
    from src.schema import WireModel, status

    script = _script()
    modules = [
        importlib.import_module(info.name)
        for info in pkgutil.iter_modules(src.schema.__path__, "src.schema.")
    ]  # every module of the schema, a new one included
    models = {
        obj
        for module in modules
        for _, obj in inspect.getmembers(module, inspect.isclass)
        if issubclass(obj, BaseModel) and obj.__module__ == module.__name__
    }
    documented = set(script.MODELS)
    assert models - {WireModel, status.Section} <= documented, models - documented


def test_a_changed_field_shows_in_the_check(tmp_path):
    script = _script()
    text = (ROOT / "docs/api.md").read_text()
    assert script.updated(text.replace("| `chunk_id` |", "| `chunk_ID` |")) == text
