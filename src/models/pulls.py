"""Pulls: ``catalog-id`` or ``owner/repo[:QUANT]`` resolved to a repo and its GGUF file(s),
downloaded into the models dir (resumable, verified) and, for Ollama, imported."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from shared_utils.errors import NetworkUnavailable, RepoNotFound
from shared_utils.types import ProgressCallback, no_progress
from src.models.catalog import CatalogEntry, load_catalog
from src.models.model_files import SPLIT_GGUF
from src.settings import Settings

if TYPE_CHECKING:
    from src.models.profile import Profile


@dataclass(frozen=True, slots=True)
class PullSpec:
    """A resolved ``models pull`` target: a repo and the GGUF file(s) of one quantization."""

    repo: str
    files: tuple[str, ...]
    quant: str
    entry: CatalogEntry | None = None


def resolve_pull(settings: Settings, spec: str) -> PullSpec:
    """``catalog-id`` or ``owner/repo[:QUANT]`` -> repo and file names.

    Unknown repos are listed on the Hub (``list_repo_tree``) and the GGUF file(s) whose
    name contains the quantization are taken (all parts of a split GGUF).
    """
    catalog = load_catalog(settings.catalog_path)
    if "/" not in spec:
        entry = catalog.get(spec)
        return PullSpec(entry.repo or entry.package, entry.files, entry.quant, entry)
    repo, _, quant = spec.partition(":")
    found = catalog.find(repo)
    if found and (not quant or quant.lower() == found.quant.lower()):
        return PullSpec(found.repo, found.files, found.quant, found)
    files = _list_ggufs(settings, repo)
    quant = quant or "Q4_K_M"
    chosen = sorted(f for f in files if quant.lower() in f.rsplit("/", 1)[-1].lower())
    if not chosen:
        raise RepoNotFound(
            f"{repo} has no GGUF file for quantization {quant}; it has: "
            + (", ".join(sorted(files)[:12]) or "no .gguf files"),
            hint="Pick one of the listed quantizations: python -m src models pull REPO:QUANT",
        )
    split = [f for f in chosen if SPLIT_GGUF.search(f)]
    if split:  # one split set: all its parts
        stem = SPLIT_GGUF.sub("", split[0])
        chosen = [f for f in split if SPLIT_GGUF.sub("", f) == stem]
    else:
        chosen = chosen[:1]
    return PullSpec(repo, tuple(chosen), quant.upper(), None)


def _list_ggufs(settings: Settings, repo: str) -> list[str]:
    from huggingface_hub import HfApi

    from shared_utils.hub_errors import map_hub_error

    if settings.hf_hub_offline:
        raise NetworkUnavailable(f"Hub access is disabled (HF_HUB_OFFLINE); cannot list {repo}")
    api = HfApi(endpoint=settings.hf_endpoint or None, token=settings.hf_token or False)
    try:
        items = list(api.list_repo_tree(repo, recursive=True))
    except Exception as exc:  # mapped to typed errors in one place
        mapped = map_hub_error(exc, repo, "", settings.hf_token)
        if mapped is exc:
            raise
        raise mapped from exc
    return [i.path for i in items if getattr(i, "path", "").endswith(".gguf")]


def download(settings: Settings, pull: PullSpec, *, progress: ProgressCallback = no_progress):
    """Download a resolved pull into the models dir (resumable, verified)."""
    from shared_utils.hub_download import download_gguf

    return download_gguf(
        pull.repo,
        pull.files,
        settings.models_dir,
        endpoint=settings.hf_endpoint or None,
        token=settings.hf_token or None,
        offline=settings.hf_hub_offline,
        expected_sha256=pull.entry.sha256 if pull.entry else (),
        progress=progress,
    )


# --- ensure --------------------------------------------------------------------------------
def ollama_name_for(pull: PullSpec) -> str:
    """The name a pull is imported under in Ollama (the catalog's, else ``repo:quant``)."""
    if pull.entry is not None:
        return pull.entry.ollama_name
    return f"{pull.repo.rsplit('/', 1)[-1].lower().removesuffix('-gguf')}:{pull.quant.lower()}"


def pull_model(
    settings: Settings,
    profile: Profile,
    pull: PullSpec,
    *,
    progress: ProgressCallback = no_progress,
    on_status: Callable[[str], None] = lambda _text: None,
) -> tuple[Any, str]:
    """Download ``pull`` and, when the engine is Ollama, import it (reusing the digests the
    download computed). Returns the download result and the Ollama name ("" if not imported)."""
    result = download(settings, pull, progress=progress)
    if profile.engine != "ollama":
        return result, ""
    from shared_utils.ollama_models import OllamaModels

    name = ollama_name_for(pull)
    models = OllamaModels(settings.ollama_host)
    try:
        models.import_gguf(
            name,
            list(result.paths),
            num_ctx=profile.context_tokens,
            digests=result.sha256,
            progress=progress,
            status=on_status,
        )
    finally:
        models.close()
    return result, name
