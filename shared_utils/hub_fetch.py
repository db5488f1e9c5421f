"""Fetching one file from the Hub: resumed with ``Range``, hashed as the bytes arrive, verified.

The bytes go into ``<file>.incomplete`` next to the target, which survives interruption and
is continued from where it stopped; ``download_gguf`` (``hub_download.py``) decides what to
fetch, holds the lock and renames the verified file into place.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import structlog

from shared_utils.errors import (
    ChecksumMismatch,
    DownloadError,
    GatedRepo,
    NetworkUnavailable,
    RepoNotFound,
)
from shared_utils.types import Progress, ProgressCallback

logger = structlog.get_logger(__name__)

CHUNK = 1 << 20


@dataclass(frozen=True, slots=True)
class DownloadProgress(Progress):
    """Progress of a download: bytes over all parts, speed and ETA."""

    speed_bps: float = 0.0
    eta_s: float | None = None
    file: str = ""


@dataclass(frozen=True, slots=True)
class RemoteFile:
    repo: str
    filename: str
    url: str  # where the bytes are (after the Hub's redirect)
    size: int
    sha256: str | None  # the LFS etag; None for small git-stored files
    commit: str


class Meter:
    """Turns byte counts into DownloadProgress reports (speed over a sliding window)."""

    def __init__(
        self, total: int, start: int, progress: ProgressCallback, clock: Callable[[], float]
    ):
        self.total, self.done, self.progress, self.clock = total, start, progress, clock
        self.window: list[tuple[float, int]] = [(clock(), start)]
        self.last_report = 0.0

    def add(self, n: int, file: str, *, force: bool = False) -> None:
        self.done += n
        now = self.clock()
        if not force and now - self.last_report < 0.2 and self.done < self.total:
            return
        self.last_report = now
        self.window.append((now, self.done))
        while len(self.window) > 2 and now - self.window[0][0] > 10.0:
            self.window.pop(0)
        t0, b0 = self.window[0]
        speed = (self.done - b0) / (now - t0) if now > t0 else 0.0
        left = max(0, self.total - self.done)
        eta = left / speed if speed > 0 else None
        msg = f"{file}: {mb(self.done)}/{mb(self.total)}"
        if speed:
            msg += f", {mb(speed)}/s"
        if eta is not None:
            msg += f", ETA {eta:.0f}s"
        self.progress(
            DownloadProgress(
                stage="download",
                done=self.done,
                total=self.total,
                message=msg,
                speed_bps=speed,
                eta_s=eta,
                file=file,
            )
        )


def mb(n: float) -> str:
    return f"{n / 1e6:.1f} MB"


def partial(final: Path) -> Path:
    return final.with_name(final.name + ".incomplete")


def _headers(token: str | None, url: str, endpoint: str | None) -> dict[str, str]:
    from huggingface_hub.utils import build_hf_headers

    headers = build_hf_headers(token=token or False, library_name="olympus")
    hub = urlparse(endpoint or "https://huggingface.co")
    if urlparse(url).netloc != hub.netloc:
        headers.pop("authorization", None)  # never send the token to a CDN
    headers["Accept-Encoding"] = "identity"
    return headers


def fetch(
    client: Any,
    r: RemoteFile,
    final: Path,
    *,
    token: str | None,
    meter: Meter,
    sleep: Callable[[float], None],
    max_retries: int,
    endpoint: str | None,
) -> tuple[int, str]:
    """Append the missing bytes of ``r`` to its partial file.

    Returns (bytes fetched, sha256 of the whole file): the hash is updated as bytes arrive,
    after hashing what an earlier run left, so verification costs no second read.
    """
    import httpx

    part = partial(final)
    fetched = failures = 0
    headers = _headers(token, r.url, endpoint)
    hasher, hashed = hashlib.sha256(), 0
    while True:
        have = _resumable_size(part, r, meter)
        if hashed != have:
            hasher, hashed = _hash_prefix(part, have)
        if have == r.size:
            return fetched, hasher.hexdigest()
        req_headers = {**headers, "Range": f"bytes={have}-"} if have else headers
        got_bytes = False
        try:
            with client.stream("GET", r.url, headers=req_headers) as resp:
                if resp.status_code == 416:  # our partial does not fit the remote file: restart
                    part.unlink(missing_ok=True)
                    meter.add(-have, r.filename)
                    continue
                _raise_for_status(resp.status_code, r)
                mode = "ab"
                if have and resp.status_code == 200:  # server ignored Range: start over
                    meter.add(-have, r.filename)
                    mode = "wb"
                    hasher, hashed = hashlib.sha256(), 0
                with open(part, mode) as fh:
                    for (
                        chunk
                    ) in resp.iter_bytes():  # as received: nothing buffered is lost on a drop
                        fh.write(chunk)
                        hasher.update(chunk)
                        hashed += len(chunk)
                        fetched += len(chunk)
                        got_bytes = True
                        meter.add(len(chunk), r.filename)
        except httpx.TransportError as exc:
            failures = 0 if got_bytes else failures + 1
            if failures > max_retries:
                raise NetworkUnavailable(
                    f"Download of {r.repo}/{r.filename} failed {failures} times in a row ({exc}); "
                    f"{mb(part.stat().st_size if part.exists() else 0)} kept for resuming"
                ) from exc
            logger.warning("download interrupted, resuming", file=r.filename, error=str(exc))
            sleep(min(30.0, 0.5 * 2**failures))
            continue
        size = part.stat().st_size if part.exists() else 0
        if size < r.size:  # connection closed cleanly but early: resume
            failures = 0 if got_bytes else failures + 1
            if failures > max_retries:
                raise NetworkUnavailable(f"Download of {r.repo}/{r.filename} keeps stopping early")
            continue
        return fetched, hasher.hexdigest()


def _resumable_size(part: Path, r: RemoteFile, meter: Meter) -> int:
    """Bytes of ``part`` to resume from (a partial longer than the file is removed)."""
    have = part.stat().st_size if part.exists() else 0
    if have > r.size:
        part.unlink()
        meter.add(-have, r.filename)
        have = 0
    return have


def _raise_for_status(status: int, r: RemoteFile) -> None:
    """The typed error of an HTTP error answer to a download request."""
    if status in (401, 403):
        raise GatedRepo(f"{r.repo}: access denied downloading {r.filename} (HTTP {status})")
    if status == 404:
        raise RepoNotFound(f"{r.repo}/{r.filename} disappeared (HTTP 404)")
    if status >= 400:
        raise DownloadError(f"HTTP {status} downloading {r.repo}/{r.filename}")


def _hash_prefix(path: Path, size: int) -> tuple[Any, int]:
    h, done = hashlib.sha256(), 0
    if size:
        with open(path, "rb") as fh:
            while done < size and (block := fh.read(min(CHUNK * 4, size - done))):
                h.update(block)
                done += len(block)
    return h, done


def verify(part: Path, want: str | None, r: RemoteFile, got: str) -> None:
    size = part.stat().st_size
    if size != r.size:
        part.unlink(missing_ok=True)
        raise ChecksumMismatch(f"{r.filename}: size {size} != {r.size}")
    if not want:
        logger.warning("no sha256 to verify against", file=r.filename)
        return
    if got != want.lower():
        part.unlink(missing_ok=True)
        raise ChecksumMismatch(
            f"{r.repo}/{r.filename}: sha256 {got[:12]}... != expected {want[:12]}..."
        )
