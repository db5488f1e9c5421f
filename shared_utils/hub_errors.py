"""One place that turns Hugging Face Hub failures into Olympus' typed errors.

401/403 with ``X-Error-Code: GatedRepo`` -> GatedRepo; ``RepoNotFound``/``EntryNotFound``/404
-> RepoNotFound; connection errors, timeouts and offline mode -> NetworkUnavailable.
"""

from __future__ import annotations

from shared_utils.errors import DownloadError, GatedRepo, NetworkUnavailable, RepoNotFound


def map_hub_error(exc: Exception, repo: str, filename: str, token: str | None) -> Exception:
    """The typed Olympus error for a huggingface_hub / transport failure (``exc`` when unknown)."""
    import httpx2  # huggingface_hub 2.4's HTTP client
    from huggingface_hub.errors import (
        FileMetadataError,
        GatedRepoError,
        HfHubHTTPError,
        HFValidationError,
        OfflineModeIsEnabled,
        RemoteEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    where = f"{repo}/{filename}"
    if isinstance(exc, HFValidationError):
        return RepoNotFound(
            f"{repo!r} is not a valid Hub repository id ({exc})",
            hint="Use owner/name, e.g. Qwen/Qwen2.5-0.5B-Instruct-GGUF:Q4_K_M",
        )
    if isinstance(exc, OfflineModeIsEnabled):
        return NetworkUnavailable(f"Hub access is disabled (HF_HUB_OFFLINE) for {where}")
    if isinstance(exc, (httpx2.TransportError, ConnectionError, TimeoutError)):
        return NetworkUnavailable(f"Cannot reach the Hugging Face Hub for {where}: {exc}")
    if isinstance(exc, GatedRepoError):
        return GatedRepo(f"{repo} is gated: access denied{' with this token' if token else ''}")
    if isinstance(exc, (RemoteEntryNotFoundError, RevisionNotFoundError)):
        return RepoNotFound(f"File {filename!r} not found in {repo}")
    if isinstance(exc, RepositoryNotFoundError):
        status = exc.response.status_code if exc.response is not None else 0
        return RepoNotFound(
            f"Repository {repo} not found (HTTP {status})",
            hint="Check the repository name; if it is private or gated, set HF_TOKEN"
            + (" (the current token has no access)." if token else "."),
        )
    if isinstance(exc, HfHubHTTPError) and exc.response is not None:
        status = exc.response.status_code
        if status in (401, 403):
            return GatedRepo(f"{repo}: access denied (HTTP {status})")
        if status == 404:
            return RepoNotFound(f"{where} not found (HTTP 404)")
        return DownloadError(f"The Hub answered HTTP {status} for {where}")
    if isinstance(exc, FileMetadataError):
        return DownloadError(str(exc).splitlines()[0])
    return exc
