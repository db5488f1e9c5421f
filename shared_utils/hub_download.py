"""Download GGUF files from the Hugging Face Hub: resumable, checked, with progress.

Why not plain ``hf_hub_download``: in huggingface_hub 2.4 it streams into a process-unique
temp file and deletes it on any failure, so an interrupted multi-GB download starts again
from zero. Here the Hub's own ``get_hf_file_metadata`` (HEAD on ``/resolve/``, honouring
``endpoint``/``HF_ENDPOINT`` and the token) gives size, sha256 (``X-Linked-Etag``) and the
download location; the bytes go into ``<file>.incomplete`` next to the target, which
survives interruption and is continued with a ``Range`` request next time (``hub_fetch.py``).

Order of checks: offline -> metadata of every part (401/403 gated, 404, no network) ->
free disk for everything still missing (before the first byte) -> download each part
(retrying dropped connections from where they stopped) -> sha256 -> rename into place.
"""

from __future__ import annotations

import os
import re
import shutil
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog

from shared_utils.errors import DiskFull, DownloadError, NetworkUnavailable
from shared_utils.hub_errors import map_hub_error
from shared_utils.hub_fetch import DownloadProgress, Meter, RemoteFile, fetch, mb, partial, verify
from shared_utils.types import ProgressCallback, no_progress

__all__ = [
    "DownloadProgress",
    "DownloadResult",
    "RemoteFile",
    "download_gguf",
    "fetch_metadata",
    "local_dir",
    "local_path",
]

logger = structlog.get_logger(__name__)

_SHA256 = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True, slots=True)
class DownloadResult:
    paths: tuple[Path, ...]
    downloaded_bytes: int  # fetched in this call
    reused_bytes: int  # already on disk (complete parts, resumed partials)
    seconds: float
    sha256: tuple[str, ...] = ()  # verified digest per part fetched in this call, "" otherwise

    @property
    def path(self) -> Path:
        """The file to open (the first part of a split GGUF)."""
        return self.paths[0]


def local_dir(models_dir: Path, repo: str) -> Path:
    return Path(models_dir) / repo.replace("/", "--")


def local_path(models_dir: Path, repo: str, filename: str) -> Path:
    return local_dir(models_dir, repo) / filename


# --- metadata ------------------------------------------------------------------------------
def fetch_metadata(
    repo: str,
    filename: str,
    *,
    endpoint: str | None = None,
    token: str | None = None,
    revision: str = "main",
    timeout: float = 10.0,
) -> RemoteFile:
    """HEAD the file on the Hub. Raises GatedRepo, RepoNotFound, NetworkUnavailable."""
    from huggingface_hub import get_hf_file_metadata, hf_hub_url

    try:
        url = hf_hub_url(repo, filename, revision=revision, endpoint=endpoint or None)
        meta = get_hf_file_metadata(
            url,
            token=token or False,
            timeout=timeout,
            endpoint=endpoint or None,
            library_name="olympus",
        )
    except Exception as exc:  # mapped to typed errors in one place, re-raised otherwise
        mapped = map_hub_error(exc, repo, filename, token)
        if mapped is exc:
            raise
        raise mapped from exc
    if meta.size is None or not meta.commit_hash:
        raise DownloadError(
            f"{url} did not answer like the Hugging Face Hub (no size or X-Repo-Commit)",
            hint="Check HF_ENDPOINT (or OLYMPUS_HF_ENDPOINT) and any proxy in between.",
        )
    etag = (meta.etag or "").lower()
    return RemoteFile(
        repo=repo,
        filename=filename,
        url=meta.location,
        size=int(meta.size),
        sha256=etag if _SHA256.match(etag) else None,
        commit=meta.commit_hash,
    )


# --- download ------------------------------------------------------------------------------
def download_gguf(
    repo: str,
    filenames: Sequence[str],
    models_dir: Path,
    *,
    endpoint: str | None = None,
    token: str | None = None,
    revision: str = "main",
    offline: bool = False,
    expected_sha256: Sequence[str] = (),
    progress: ProgressCallback = no_progress,
    disk_usage: Callable[[Any], Any] = shutil.disk_usage,
    client: Any = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    max_retries: int = 5,
    read_timeout_s: float = 30.0,
    min_free_margin_bytes: int = 200 * 1024**2,
) -> DownloadResult:
    """Download every part of a (split) GGUF into ``models_dir/<owner>--<name>/``.

    Resumes ``.incomplete`` files left by an interrupted run; verifies sha256; raises
    GatedRepo, RepoNotFound, NetworkUnavailable, DiskFull, ChecksumMismatch, DownloadError.
    """
    if not filenames:
        raise ValueError("no files to download")
    if offline:
        raise NetworkUnavailable(f"Hub access is disabled (HF_HUB_OFFLINE) for {repo}")
    started = clock()
    remotes = [
        fetch_metadata(repo, f, endpoint=endpoint, token=token, revision=revision)
        for f in filenames
    ]
    target_dir = local_dir(models_dir, repo)
    target_dir.mkdir(parents=True, exist_ok=True)

    on_disk = _check_room(repo, remotes, target_dir, disk_usage, min_free_margin_bytes)
    meter = Meter(sum(r.size for r in remotes), on_disk, progress, clock)
    meter.add(0, remotes[0].filename, force=True)
    own_client = client is None
    if own_client:
        import httpx

        client = httpx.Client(
            follow_redirects=True, timeout=httpx.Timeout(10.0, read=read_timeout_s)
        )
    try:
        fetched, digests = _fetch_all(
            client,
            remotes,
            target_dir,
            expected_sha256,
            token=token,
            meter=meter,
            sleep=sleep,
            max_retries=max_retries,
            endpoint=endpoint,
        )
    finally:
        if own_client:
            client.close()
    meter.done = meter.total  # parts another process finished while we waited count too
    meter.add(0, remotes[-1].filename, force=True)
    return DownloadResult(
        paths=tuple(target_dir / r.filename for r in remotes),
        downloaded_bytes=fetched,
        reused_bytes=on_disk,
        seconds=clock() - started,
        sha256=tuple(digests),
    )


def _check_room(
    repo: str,
    remotes: Sequence[RemoteFile],
    target_dir: Path,
    disk_usage: Callable[[Any], Any],
    min_free_margin_bytes: int,
) -> int:
    """Bytes already on disk (finished or resumable); raises DiskFull before the first byte
    when the rest does not fit."""
    on_disk = 0
    missing = 0
    for r in remotes:
        final, part = target_dir / r.filename, partial(target_dir / r.filename)
        if final.exists() and final.stat().st_size == r.size:
            on_disk += r.size
        else:
            have = part.stat().st_size if part.exists() else 0
            have = have if have <= r.size else 0
            on_disk += have
            missing += r.size - have
    free = int(disk_usage(target_dir).free)
    margin = max(min_free_margin_bytes, missing // 20)
    if missing and missing + margin > free:
        raise DiskFull(
            f"{repo} needs {mb(missing)} more (+{mb(margin)} margin) but only {mb(free)} is free "
            f"in {target_dir}"
        )
    return on_disk


def _fetch_all(
    client: Any,
    remotes: Sequence[RemoteFile],
    target_dir: Path,
    expected_sha256: Sequence[str],
    **fetch_kw: Any,
) -> tuple[int, list[str]]:
    """Fetch, verify and move into place each part not yet complete; (bytes, digests)."""
    fetched = 0
    digests = [""] * len(remotes)
    for i, r in enumerate(remotes):
        final = target_dir / r.filename
        with _exclusive(final):  # a second downloader of the same file waits, then reuses it
            if final.exists() and final.stat().st_size == r.size:
                continue
            n, digest = fetch(client, r, final, **fetch_kw)
            fetched += n
            want = expected_sha256[i] if i < len(expected_sha256) else r.sha256
            verify(partial(final), want, r, digest)
            os.replace(partial(final), final)
            digests[i] = digest
        logger.info("downloaded", repo=r.repo, file=r.filename, bytes=r.size)
    return fetched, digests


@contextmanager
def _exclusive(final: Path) -> Iterator[None]:
    """An advisory lock on ``<file>.lock`` for the duration of one file's download."""
    try:
        import fcntl
    except ImportError:  # not POSIX: no cross-process lock
        yield
        return
    final.parent.mkdir(parents=True, exist_ok=True)  # a part in a repository subfolder
    with open(final.with_name(final.name + ".lock"), "a+b") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            logger.info("waiting for another download of the same file", file=final.name)
            fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
