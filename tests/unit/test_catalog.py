"""The model catalog: the real file validates; broken files name the entry and field."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from shared_utils.errors import CatalogError
from src.models.catalog import HardwareFacts, load_catalog
from src.settings import Settings

REAL = Settings.model_fields["catalog_path"].default


def test_real_catalog_validates_and_covers_every_tier():
    catalog = load_catalog(REAL)
    tiers = {e.tier for e in catalog.entries}
    assert tiers == set(catalog.tiers)
    assert catalog.offline_entry.id == "smollm2-135m-offline"
    assert catalog.get("llama-3.2-3b-instruct").gated
    seven = catalog.get("qwen2.5-7b-instruct")
    assert seven.is_split and seven.files[-1].endswith("-00002-of-00002.gguf")
    assert all(e.quant and e.licence and e.ollama_name for e in catalog.entries)


@pytest.mark.parametrize(
    ("facts", "expected"),
    [
        (HardwareFacts(cpus=2, ram_gb=16), "qwen2.5-0.5b-instruct"),
        (HardwareFacts(cpus=4, ram_gb=8), "qwen2.5-1.5b-instruct"),
        (HardwareFacts(cpus=8, ram_gb=32), "qwen2.5-3b-instruct"),
        (HardwareFacts(cpus=8, ram_gb=32, has_hf_token=True), "llama-3.2-3b-instruct"),
        (HardwareFacts(cpus=4, ram_gb=32, vram_gb=16), "qwen2.5-7b-instruct"),
        (HardwareFacts(cpus=8, ram_gb=64, vram_gb=24), "qwen2.5-14b-instruct"),
        (HardwareFacts(cpus=1, ram_gb=1), "smollm2-135m-offline"),
    ],
)
def test_choose_picks_the_largest_fitting_tier(facts, expected):
    choice = load_catalog(REAL).choose(facts)
    assert choice.entry.id == expected
    assert choice.reasons and expected in choice.reasons[-1]


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "catalog.toml"
    path.write_text(text)
    return path


def _broken(tmp_path: Path, **changes) -> Path:
    """The real catalog with one change to the qwen2.5-0.5b entry."""
    raw = tomllib.loads(Path(REAL).read_text())
    entry = next(m for m in raw["models"] if m["id"] == "qwen2.5-0.5b-instruct")
    for key, value in changes.items():
        if value is None:
            entry.pop(key)
        else:
            entry[key] = value
    return _write(tmp_path, _to_toml(raw))


def _to_toml(raw: dict) -> str:
    def val(v):
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, str):
            return '"' + v.replace('"', '\\"') + '"'
        if isinstance(v, list):
            return "[" + ", ".join(val(x) for x in v) + "]"
        return str(v)

    lines = [f"schema_version = {raw['schema_version']}"]
    for name, tier in raw["tiers"].items():
        lines.append(f"[tiers.{name}]")
        lines += [f"{k} = {val(v)}" for k, v in tier.items()]
    for m in raw["models"]:
        lines.append("[[models]]")
        lines += [f"{k} = {val(v)}" for k, v in m.items()]
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"quant": None}, "quant"),
        ({"context_tokens": 100}, "context_tokens"),
        ({"files": ["model.bin"]}, "files"),
        ({"files": ["m-00001-of-00003.gguf", "m-00002-of-00003.gguf"]}, "files"),
        ({"tier": "gpu-80gb"}, "tier"),
        ({"repo": "not a repo"}, "repo"),
        ({"sha256": ["abc"]}, "sha256"),
        ({"licence": None}, "licence"),
        ({"surprise": 1}, "surprise"),
    ],
)
def test_broken_entry_names_entry_and_field(tmp_path, changes, field):
    with pytest.raises(CatalogError) as err:
        load_catalog(_broken(tmp_path, **changes))
    message = str(err.value)
    assert "qwen2.5-0.5b-instruct" in message and field in message
    assert "models/README.md" in err.value.hint


def test_invalid_toml_and_missing_file(tmp_path):
    with pytest.raises(CatalogError, match="not valid TOML"):
        load_catalog(_write(tmp_path, "schema_version = = 1"))
    with pytest.raises(CatalogError, match="does not exist"):
        load_catalog(tmp_path / "nope.toml")


def test_duplicate_ids_and_unknown_model_id(tmp_path):
    raw = tomllib.loads(Path(REAL).read_text())
    raw["models"].append(dict(raw["models"][1]))
    with pytest.raises(CatalogError, match="duplicate id"):
        load_catalog(_write(tmp_path, _to_toml(raw)))
    with pytest.raises(CatalogError, match="known: "):
        load_catalog(REAL).get("gpt-17")


@pytest.mark.parametrize(
    "space, cpus, ram_gb, vram_gb, expected",
    [
        ("cpu-basic", 2, 16, 0, "qwen2.5-0.5b-instruct"),
        ("t4-small", 4, 15, 15, "qwen2.5-7b-instruct"),  # 15 GB host RAM must not hide the GPU
        ("a10g-small", 4, 15, 22.5, "qwen2.5-14b-instruct"),
    ],
)
def test_hf_space_hardware_gets_a_model_for_its_gpu(space, cpus, ram_gb, vram_gb, expected):
    choice = load_catalog(REAL).choose(HardwareFacts(cpus=cpus, ram_gb=ram_gb, vram_gb=vram_gb))
    assert choice.entry.id == expected, choice.reasons


def test_the_bundled_model_file_is_the_one_the_catalog_names(tmp_path):
    from shared_utils.errors import ModelNotFound
    from src.models.model_files import bundled_gguf

    offline = load_catalog(REAL).offline_entry
    assert bundled_gguf().name == offline.files[0] and bundled_gguf().read_bytes()[:4] == b"GGUF"
    raw = tomllib.loads(REAL.read_text())
    for entry in raw["models"]:
        if entry.get("package"):
            entry["files"] = ["renamed.gguf"]
    settings = Settings(data_dir=tmp_path, catalog_path=_write(tmp_path, _to_toml(raw)))
    with pytest.raises(ModelNotFound, match=r"renamed.gguf") as err:
        bundled_gguf(settings)
    assert "requirements-nodeps.txt" in err.value.hint
