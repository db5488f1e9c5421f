"""Model files on disk: the bundled GGUF, complete GGUFs under the models dir (split files
counted once, and only when every part is there), and a catalog entry's files."""

from __future__ import annotations

import re
from pathlib import Path

from src.models.catalog import CatalogEntry, load_catalog
from src.settings import Settings

SPLIT_GGUF = re.compile(r"-(\d{5})-of-(\d{5})\.gguf$")


def bundled_gguf(settings: Settings | None = None) -> Path:
    """The bundled offline model's file: the catalog's entry with a ``package``."""
    path = settings.catalog_path if settings else Settings.model_fields["catalog_path"].default
    return load_catalog(path).offline_entry.packaged_file()


def local_ggufs(models_dir: Path) -> list[Path]:
    """Complete GGUF models under ``models_dir`` (first part only for split files)."""
    if not models_dir.is_dir():
        return []
    out = []
    for path in sorted(models_dir.glob("*/*.gguf")):
        m = SPLIT_GGUF.search(path.name)
        if m and m.group(1) != "00001":
            continue
        if m and not all(
            (path.parent / SPLIT_GGUF.sub(f"-{i:05d}-of-{m.group(2)}.gguf", path.name)).exists()
            for i in range(1, int(m.group(2)) + 1)
        ):
            continue
        out.append(path)
    return out


def entry_paths(settings: Settings, entry: CatalogEntry) -> list[Path] | None:
    """The entry's files on disk, or None when any part is missing."""
    if entry.bundled:
        return [entry.packaged_file()]
    from shared_utils.hub_download import local_path

    def find(filename: str) -> Path:
        # Read-only dirs first (a GGUF baked into the image), then the data dir's downloads.
        for directory in settings.model_search_dirs:
            if (directory / filename).is_file():
                return directory / filename
        return local_path(settings.models_dir, entry.repo, filename)

    paths = [find(f) for f in entry.files]
    return paths if all(p.is_file() for p in paths) else None
