"""``python -m src models list|pull REPO[:QUANT]|rm NAME|use NAME``

- ``list``: the catalog's recommendation for this machine, catalog entries and whether they
  are on disk / in Ollama, GGUF files on disk, Ollama's models, the active model.
- ``pull``: a catalog id or ``owner/repo[:QUANT]``; a progress bar with bytes, speed, ETA.
  With the Ollama engine the GGUF is imported (or ``--ollama-pull`` lets Ollama fetch
  ``hf.co/owner/repo:QUANT`` itself).
- ``rm``: delete a model's files (and its Ollama copy); ``use``: set the active model.
"""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING, Any

from shared_utils.errors import ModelNotFound, OllamaNotRunning
from shared_utils.types import Progress
from src.settings import Settings

if TYPE_CHECKING:
    from src.schema.reports import ModelsReport, OllamaModelRow


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("models", help="list, pull, remove or choose language models")
    cmds = p.add_subparsers(dest="models_cmd", metavar="ACTION", required=True)
    ls = cmds.add_parser("list", help="installed models and the recommendation for this machine")
    ls.add_argument("--json", action="store_true")
    pull = cmds.add_parser("pull", help="download a model from the Hugging Face Hub")
    pull.add_argument("spec", metavar="REPO[:QUANT]", help="catalog id or owner/repo[:QUANT]")
    pull.add_argument(
        "--ollama-pull",
        action="store_true",
        help="let Ollama pull hf.co/REPO:QUANT itself (Ollama engine only)",
    )
    pull.add_argument("--use", action="store_true", help="make it the active model")
    rm = cmds.add_parser("rm", help="delete a model")
    rm.add_argument("name", help="catalog id, owner/repo, .gguf file or Ollama model name")
    use = cmds.add_parser("use", help="set the active model")
    use.add_argument(
        "name",
        help="catalog id, owner/repo, Ollama model name, or a .gguf file "
        "anywhere (linked, or copied, into the models folder)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    return {"list": _list, "pull": _pull, "rm": _rm, "use": _use}[args.models_cmd](args, settings)


# --- list ----------------------------------------------------------------------------------
def _list(args: argparse.Namespace, settings: Settings) -> int:
    from src.models.active import read_active
    from src.models.catalog import load_catalog
    from src.models.model_files import entry_paths, local_ggufs
    from src.models.operations import gguf_size
    from src.models.profile import detect
    from src.schema.reports import ActiveModel, CatalogRow, ModelFile, ModelsReport, report_json

    profile = detect(settings)
    catalog = load_catalog(settings.catalog_path)
    ollama, ollama_error = _ollama_models(settings) if profile.engine == "ollama" else ([], "")
    in_ollama = {m.name for m in ollama}
    report = ModelsReport(
        recommended=profile.model,
        engine=profile.engine,
        why=[r for r in profile.reasons if r.startswith("model")],
        active=ActiveModel.model_validate(read_active(settings)),
        catalog=[
            CatalogRow(
                id=e.id,
                tier=e.tier,
                repo=e.repo or f"(bundled: {e.package})",
                quant=e.quant,
                size_gb=e.size_gb,
                gated=e.gated,
                licence=e.licence,
                on_disk=entry_paths(settings, e) is not None,
                in_ollama=e.ollama_name in in_ollama or f"{e.ollama_name}:latest" in in_ollama,
            )
            for e in catalog.entries
        ],
        files=[
            ModelFile(path=str(p), size_bytes=gguf_size(p))
            for p in local_ggufs(settings.models_dir)
        ],
        ollama=ollama,
        ollama_error=ollama_error,
    )
    if args.json:
        print(json.dumps(report_json(report), indent=1))
        return 0
    _render_list(report)
    return 0


def _render_list(report: ModelsReport) -> None:
    print(f"Recommended for this machine: {report.recommended} (engine {report.engine})")
    for why in report.why:
        print(f"  - {why.removeprefix('model: ')}")
    label = report.active.name or report.active.model or "(none: the recommendation)"
    print(f"Active model: {label}")
    print("\nCatalog:")
    for row in report.catalog:
        flags = [
            f
            for f, on in (
                ("on disk", row.on_disk),
                ("in Ollama", row.in_ollama),
                ("gated", row.gated),
            )
            if on
        ]
        mark = "*" if row.id == report.recommended else " "
        print(
            f" {mark} {row.id:<24} {row.tier:<11} {row.quant:<7} {row.size_gb:>5.2f} GB"
            f"  {row.repo}{'  [' + ', '.join(flags) + ']' if flags else ''}"
        )
    print("\nGGUF files on disk:" if report.files else "\nNo GGUF files downloaded yet.")
    for f in report.files:
        print(f"   {f.size_bytes / 1e9:6.2f} GB  {f.path}")
    if report.engine == "ollama":
        print("\nOllama:" if not report.ollama_error else f"\nOllama: {report.ollama_error}")
        for m in report.ollama:
            print(
                f"   {m.name:<40} {m.size_bytes / 1e9:6.2f} GB {m.quant:<7} "
                f"{m.family:<8} ctx {m.num_ctx or m.context_length or '?'}"
            )


def _ollama_models(settings: Settings) -> tuple[list[OllamaModelRow], str]:
    from dataclasses import asdict

    from shared_utils.ollama_models import OllamaModels
    from src.schema.reports import OllamaModelRow

    models = OllamaModels(settings.ollama_host)
    try:
        return [OllamaModelRow.model_validate(asdict(m)) for m in models.list()], ""
    except OllamaNotRunning as exc:
        return [], str(exc)
    finally:
        models.close()


# --- pull ----------------------------------------------------------------------------------
class TqdmProgress:
    """A Progress callback drawing one tqdm bar per stage (bytes, speed, ETA)."""

    def __init__(self, enabled: bool = True) -> None:
        self.bar: Any = None
        self.stage = ""
        self.enabled = enabled  # off under JSON logs: no bar glued into a JSON record

    def __call__(self, p: Progress) -> None:
        from tqdm import tqdm

        if p.stage != self.stage or self.bar is None:
            self.close()
            self.stage = p.stage
            self.bar = tqdm(
                total=p.total or None,
                initial=p.done,
                unit="B",
                unit_scale=True,
                unit_divisor=1024,
                desc=p.stage,
                dynamic_ncols=True,
                disable=not self.enabled,
            )
        if p.total and self.bar.total != p.total:
            self.bar.total = p.total
        self.bar.update(p.done - self.bar.n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def _pull(args: argparse.Namespace, settings: Settings) -> int:
    from src.models.active import write_active
    from src.models.profile import detect
    from src.models.pulls import pull_model, resolve_pull

    profile = detect(settings)
    bar = TqdmProgress(enabled=settings.log_format_resolved == "console")
    try:
        if args.ollama_pull:
            from shared_utils.ollama_models import OllamaModels

            ref = _hf_ref(settings, args.spec)
            models = OllamaModels(settings.ollama_host)
            try:
                models.pull(ref, progress=bar)
            finally:
                models.close()
            bar.close()
            print(f"Ollama pulled {ref}")
            if args.use:
                write_active(settings, name=ref, ollama_model=ref)
            return 0
        spec = resolve_pull(settings, args.spec)
        if spec.entry is not None and spec.entry.bundled:
            print(f"{spec.entry.id} is bundled with Olympus; nothing to download.")
            return 0
        if spec.entry is not None and spec.entry.gated and not settings.hf_token:
            print(
                f"note: {spec.repo} is gated; accept its licence on huggingface.co and set HF_TOKEN."
            )
        result, ollama_name = pull_model(
            settings, profile, spec, progress=bar, on_status=lambda s: print(f"  ollama: {s}")
        )
        bar.close()
        print(
            f"Downloaded {spec.repo} ({', '.join(spec.files)}) -> {result.path}"
            f" [{result.downloaded_bytes / 1e6:.1f} MB fetched, {result.reused_bytes / 1e6:.1f} MB reused]"
        )
        if ollama_name:
            print(f"Imported into Ollama as {ollama_name}")
        name = spec.entry.id if spec.entry else f"{spec.repo}:{spec.quant}"
        if args.use:
            write_active(
                settings,
                name=name,
                model=spec.entry.id if spec.entry else "",
                path=result.path,
                ollama_model=ollama_name,
            )
            print(f"Active model: {name}")
        return 0
    finally:
        bar.close()


def _hf_ref(settings: Settings, spec: str) -> str:
    """Ollama's ``hf.co/{user}/{repo}:{quant}`` for a catalog id or ``owner/repo[:QUANT]``."""
    from src.models.catalog import load_catalog

    if "/" not in spec:
        entry = load_catalog(settings.catalog_path).get(spec)
        if not entry.repo or entry.is_split:
            raise ModelNotFound(
                f"{spec} cannot be pulled by Ollama directly "
                f"({'bundled' if not entry.repo else 'split GGUF'})",
                hint=f"Use: python -m src models pull {spec}",
            )
        return entry.hf_pull or f"hf.co/{entry.repo}:{entry.quant}"
    repo, _, quant = spec.partition(":")
    return f"hf.co/{repo}:{quant or 'Q4_K_M'}"


# --- rm / use ------------------------------------------------------------------------------
def _rm(args: argparse.Namespace, settings: Settings) -> int:
    from src.models.operations import remove_model
    from src.models.profile import detect

    removed = remove_model(settings, detect(settings), args.name)
    if removed.was_active:
        print("The active model was removed; the catalog's recommendation is used again.")
    for item in removed.items:
        print(f"removed {item}")
    return 0


def _use(args: argparse.Namespace, settings: Settings) -> int:
    from src.models.operations import use_model
    from src.models.profile import detect

    bar = TqdmProgress()  # a copy (another file system) or an Ollama import shows progress
    try:
        print(use_model(settings, detect(settings), args.name, progress=bar))
    finally:
        bar.close()
    return 0
