"""GGUF downloads against a local server that answers like the Hub's resolve endpoint."""

from __future__ import annotations

import hashlib
import os
import socket
from pathlib import Path
from types import SimpleNamespace

import pytest

from shared_utils.errors import (
    ChecksumMismatch,
    DiskFull,
    GatedRepo,
    NetworkUnavailable,
    RepoNotFound,
)
from shared_utils.hub_download import DownloadProgress, download_gguf, local_path
from tests.doubles.hub_server import HubServer

REPO = "acme/Tiny-Instruct-GGUF"
FILE = "tiny-instruct-q4_k_m.gguf"


@pytest.fixture(autouse=True)
def _hub_online(monkeypatch: pytest.MonkeyPatch) -> None:
    """conftest switches the real Hub off; these tests talk to the local double only."""
    import huggingface_hub.constants as hf_constants

    monkeypatch.setattr(hf_constants, "HF_HUB_OFFLINE", False)


@pytest.fixture
def hub():
    with HubServer() as server:
        yield server


@pytest.fixture
def blob() -> bytes:
    return os.urandom(3 * 1024 * 1024 + 123)


def _get(hub: HubServer) -> list[dict[str, str]]:
    return [r for r in hub.state.requests if r["cdn"] == "True" and r["method"] == "GET"]


def test_download_verifies_and_reports_monotonic_progress_with_eta(hub, blob, data_dir):
    hub.add_file(REPO, FILE, blob)
    reports: list[DownloadProgress] = []
    ticks = iter(range(10_000))
    result = download_gguf(
        REPO,
        [FILE],
        data_dir / "models",
        endpoint=hub.url,
        progress=reports.append,
        clock=lambda: next(ticks) * 0.1,
    )
    assert result.path == local_path(data_dir / "models", REPO, FILE)
    assert result.path.read_bytes() == blob
    assert result.sha256 == (hashlib.sha256(blob).hexdigest(),)
    assert not result.path.with_name(FILE + ".incomplete").exists()
    done = [p.done for p in reports]
    assert done == sorted(done) and done[-1] == len(blob) and reports[-1].total == len(blob)
    assert any(p.eta_s is not None and p.speed_bps > 0 for p in reports)
    assert "MB/s" in reports[-2].message


def test_dropped_connection_resumes_with_range(hub, blob, data_dir):
    hub.add_file(REPO, FILE, blob)
    hub.state.drop_after[FILE] = (len(blob) // 2, 1)
    result = download_gguf(
        REPO, [FILE], data_dir / "models", endpoint=hub.url, sleep=lambda s: None
    )
    assert result.path.read_bytes() == blob
    gets = _get(hub)
    assert len(gets) == 2 and gets[1]["range"] == f"bytes={len(blob) // 2}-"


def test_interrupted_download_is_resumed_by_the_next_call(hub, blob, data_dir):
    hub.add_file(REPO, FILE, blob)
    hub.state.drop_after[FILE] = (len(blob) // 3, 100)
    with pytest.raises(NetworkUnavailable):
        download_gguf(
            REPO, [FILE], data_dir / "models", endpoint=hub.url, sleep=lambda s: None, max_retries=1
        )
    partial = local_path(data_dir / "models", REPO, FILE + ".incomplete")
    assert partial.stat().st_size == len(blob) // 3
    assert not local_path(data_dir / "models", REPO, FILE).exists()

    hub.state.drop_after.clear()
    result = download_gguf(REPO, [FILE], data_dir / "models", endpoint=hub.url)
    assert result.path.read_bytes() == blob
    assert result.reused_bytes == len(blob) // 3
    assert result.downloaded_bytes == len(blob) - len(blob) // 3


def test_gated_repo_without_token_says_accept_licence_and_set_token(hub, blob, data_dir):
    hub.add_file(REPO, FILE, blob)
    hub.gate(REPO, "hf_granted")
    with pytest.raises(GatedRepo) as err:
        download_gguf(REPO, [FILE], data_dir / "models", endpoint=hub.url)
    assert "HF_TOKEN" in err.value.hint and "licence" in err.value.hint
    with pytest.raises(GatedRepo):
        download_gguf(REPO, [FILE], data_dir / "models", endpoint=hub.url, token="hf_other")
    result = download_gguf(REPO, [FILE], data_dir / "models", endpoint=hub.url, token="hf_granted")
    assert result.path.read_bytes() == blob
    # the token goes to the Hub, never to the CDN
    assert all(r["auth"] == "" for r in hub.state.requests if r["cdn"] == "True")


def test_missing_file_and_missing_repo_are_not_found(hub, blob, data_dir):
    hub.add_file(REPO, FILE, blob)
    with pytest.raises(RepoNotFound, match="not found"):
        download_gguf(REPO, ["nope.gguf"], data_dir / "models", endpoint=hub.url)
    with pytest.raises(RepoNotFound):
        download_gguf("acme/does-not-exist", [FILE], data_dir / "models", endpoint=hub.url)


def test_checksum_mismatch_deletes_the_file(hub, blob, data_dir):
    hub.add_file(REPO, FILE, blob)
    hub.state.corrupt.add(FILE)
    with pytest.raises(ChecksumMismatch) as err:
        download_gguf(REPO, [FILE], data_dir / "models", endpoint=hub.url)
    assert "pull again" in err.value.hint
    folder = local_path(data_dir / "models", REPO, FILE).parent
    assert [p for p in folder.iterdir() if not p.name.endswith(".lock")] == []


def test_disk_full_is_reported_before_downloading(hub, blob, data_dir):
    hub.add_file(REPO, FILE, blob)
    tiny_disk = lambda path: SimpleNamespace(free=10 * 1024 * 1024, total=1, used=1)  # noqa: E731
    with pytest.raises(DiskFull, match="needs"):
        download_gguf(REPO, [FILE], data_dir / "models", endpoint=hub.url, disk_usage=tiny_disk)
    assert _get(hub) == []


def test_split_gguf_downloads_all_parts_with_one_progress(hub, data_dir):
    parts = [f"big-q4_k_m-0000{i}-of-00002.gguf" for i in (1, 2)]
    blobs = [os.urandom(1_500_000), os.urandom(1_200_000)]
    for name, data in zip(parts, blobs, strict=True):
        hub.add_file(REPO, name, data)
    reports: list[DownloadProgress] = []
    result = download_gguf(
        REPO, parts, data_dir / "models", endpoint=hub.url, progress=reports.append
    )
    assert [p.read_bytes() for p in result.paths] == blobs
    assert result.path.name == parts[0]
    assert {p.total for p in reports} == {sum(map(len, blobs))}
    assert [p.done for p in reports] == sorted(p.done for p in reports)
    # a second pull finds everything on disk and fetches nothing
    again = download_gguf(REPO, parts, data_dir / "models", endpoint=hub.url)
    assert again.downloaded_bytes == 0 and again.reused_bytes == sum(map(len, blobs))


def test_unreachable_hub_and_offline_mode_are_network_unavailable(data_dir):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(NetworkUnavailable) as err:
        download_gguf(REPO, [FILE], data_dir / "models", endpoint=f"http://127.0.0.1:{port}")
    assert "models already on disk" in err.value.hint
    with pytest.raises(NetworkUnavailable):
        download_gguf(
            REPO, [FILE], data_dir / "models", endpoint="http://127.0.0.1:9", offline=True
        )


def test_sha_from_catalog_overrides_the_hub_etag(hub, blob, data_dir: Path):
    hub.add_file(REPO, FILE, blob)
    with pytest.raises(ChecksumMismatch):
        download_gguf(
            REPO, [FILE], data_dir / "models", endpoint=hub.url, expected_sha256=["0" * 64]
        )


def test_stalled_transfer_times_out_and_resumes(hub, blob, data_dir):
    hub.add_file(REPO, FILE, blob)
    hub.state.stall_s, hub.state.stall_times = 1.5, 1
    result = download_gguf(
        REPO,
        [FILE],
        data_dir / "models",
        endpoint=hub.url,
        sleep=lambda s: None,
        read_timeout_s=0.3,
    )
    assert result.path.read_bytes() == blob
    assert len(_get(hub)) == 2


def test_two_concurrent_pulls_of_one_file_download_it_once(hub, blob, data_dir):
    import threading

    hub.add_file(REPO, FILE, blob)
    hub.state.slow_s_per_mb = 0.2
    results = []
    threads = [
        threading.Thread(
            target=lambda: results.append(
                download_gguf(REPO, [FILE], data_dir / "models", endpoint=hub.url)
            )
        )
        for _ in range(2)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert [r.path.read_bytes() == blob for r in results] == [True, True]
    assert hub.state.sent_bytes == len(blob)


def test_split_gguf_in_a_repository_subfolder_downloads(hub, data_dir):
    parts = [f"Q4_K_M/big-q4_k_m-0000{i}-of-00002.gguf" for i in (1, 2)]
    blobs = [os.urandom(700_000), os.urandom(500_000)]
    for name, data in zip(parts, blobs, strict=True):
        hub.add_file(REPO, name, data)
    result = download_gguf(REPO, parts, data_dir / "models", endpoint=hub.url)
    assert [p.read_bytes() for p in result.paths] == blobs
    assert all(p.parent.name == "Q4_K_M" for p in result.paths)
