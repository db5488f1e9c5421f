import pytest

from shared_utils.errors import SettingsError
from src.settings import load_settings


def test_env_vars_are_read_once_with_prefix(monkeypatch, tmp_path):
    monkeypatch.setenv("OLYMPUS_DATA_DIR", str(tmp_path / "d"))
    monkeypatch.setenv("OLYMPUS_TOP_K", "7")
    monkeypatch.setenv("HF_TOKEN", "hf_x")
    s = load_settings()
    assert s.data_dir == tmp_path / "d"
    assert s.top_k == 7
    assert s.hf_token == "hf_x"
    assert "hf_x" not in repr(s)  # secrets never end up in logs


def test_bad_value_names_the_variable(monkeypatch):
    monkeypatch.setenv("OLYMPUS_MAX_UPLOAD_MB", "lots")
    with pytest.raises(SettingsError, match="OLYMPUS_MAX_UPLOAD_MB"):
        load_settings()


def test_unknown_backend_lists_valid_names(monkeypatch):
    monkeypatch.setenv("OLYMPUS_BACKENDS", "ollama,gpt5")
    with pytest.raises(SettingsError, match="extractive"):
        load_settings()


def test_overlap_must_be_below_chunk_size(monkeypatch):
    monkeypatch.setenv("OLYMPUS_CHUNK_TOKENS", "64")
    monkeypatch.setenv("OLYMPUS_CHUNK_OVERLAP_TOKENS", "64")
    with pytest.raises(SettingsError, match="OVERLAP"):
        load_settings()


def test_dotenv_file_is_read(tmp_path, monkeypatch):
    (tmp_path / ".env").write_text("OLYMPUS_RRF_K=30\n")
    monkeypatch.chdir(tmp_path)
    assert load_settings().rrf_k == 30


@pytest.mark.parametrize(
    ("device", "precision", "batch"),
    [("cpu", "int8", 8), ("cuda", "fp32", 64), ("cuda:1", "fp32", 64)],
)
def test_embedding_precision_and_batch_follow_the_device(monkeypatch, device, precision, batch):
    monkeypatch.setenv("OLYMPUS_EMBEDDING_DEVICE", device)
    s = load_settings()
    assert (s.resolved_embedding_precision, s.resolved_embedding_batch_size) == (precision, batch)
    monkeypatch.setenv("OLYMPUS_EMBEDDING_PRECISION", "fp32")
    monkeypatch.setenv("OLYMPUS_EMBEDDING_BATCH_SIZE", "32")
    s = load_settings()
    assert (s.resolved_embedding_precision, s.resolved_embedding_batch_size) == ("fp32", 32)


def test_unknown_embedding_precision_names_the_variable(monkeypatch):
    monkeypatch.setenv("OLYMPUS_EMBEDDING_PRECISION", "int4")
    with pytest.raises(SettingsError, match="OLYMPUS_EMBEDDING_PRECISION"):
        load_settings()
