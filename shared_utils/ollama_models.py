"""Models inside Ollama: import a GGUF (blob upload + create), pull, list, delete, warm up.

Transport failures are mapped to typed errors in ``_call`` (one place): connection refused
-> ``OllamaNotRunning``, 404 -> ``ModelNotFound``. The official ``ollama`` client does the
JSON calls; ``httpx`` streams blob uploads from disk with byte progress. A create that fails
is followed by a delete, so no half-registered model is left behind.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import structlog

from shared_utils.errors import (
    DownloadError,
    ModelCreateFailed,
    ModelNotFound,
    OllamaNotRunning,
)
from shared_utils.types import Progress, ProgressCallback, no_progress

logger = structlog.get_logger(__name__)

T = TypeVar("T")
_CHUNK = 1 << 20

# Used only when the GGUF carries no chat template (Ollama reads it from the GGUF otherwise).
CHATML_TEMPLATE = (
    "{{- range .Messages }}<|im_start|>{{ .Role }}\n{{ .Content }}<|im_end|>\n"
    "{{ end }}<|im_start|>assistant\n"
)


@dataclass(frozen=True, slots=True)
class InstalledModel:
    name: str
    size_bytes: int
    quant: str
    family: str
    parameter_size: str
    context_length: int | None  # the model's trained maximum (model_info)
    num_ctx: int | None  # the context Ollama will use (parameters), when set


def gguf_has_chat_template(path: Path) -> bool:
    """True when the GGUF header carries ``tokenizer.chat_template``."""
    from gguf import GGUFReader

    try:
        reader = GGUFReader(str(path))
    except (ValueError, OSError) as exc:
        raise ModelCreateFailed(
            f"{path} is not a readable GGUF file: {exc}", hint="Delete it and pull the model again."
        ) from exc
    return "tokenizer.chat_template" in reader.fields


def sha256_of(path: Path, progress: ProgressCallback = no_progress) -> str:
    total = path.stat().st_size
    h, done = hashlib.sha256(), 0
    with open(path, "rb") as fh:
        while block := fh.read(_CHUNK * 4):
            h.update(block)
            done += len(block)
            progress(Progress("hash", done, total, f"checking {path.name}"))
    return h.hexdigest()


class OllamaModels:
    """Model management against one Ollama server (``host`` like http://127.0.0.1:11434)."""

    def __init__(
        self, host: str, *, timeout_s: float = 600.0, client: Any = None, http: Any = None
    ) -> None:
        import httpx
        import ollama

        self.host = host.rstrip("/")
        self.client = client or ollama.Client(host=self.host, timeout=timeout_s)
        self.http = http or httpx.Client(
            base_url=self.host, timeout=httpx.Timeout(timeout_s, connect=5.0)
        )

    # --- one place for transport errors -----------------------------------------------------
    def _call(self, fn: Callable[[], T], *, model: str = "") -> T:
        import httpx
        import ollama

        try:
            return fn()
        except ollama.ResponseError as exc:
            if exc.status_code == 404 or "not found" in str(exc.error).lower():
                raise ModelNotFound(f"Ollama has no model {model!r}: {exc.error}") from exc
            raise
        except (ConnectionError, httpx.ConnectError, httpx.ConnectTimeout) as exc:
            raise OllamaNotRunning(f"Ollama is not reachable at {self.host}") from exc

    # --- queries ----------------------------------------------------------------------------
    def version(self) -> str:
        resp = self._call(lambda: self.http.get("/api/version"))
        resp.raise_for_status()
        return str(resp.json().get("version", ""))

    def list(self) -> list[InstalledModel]:
        """Installed models with size, quantization, family and context (from /api/show)."""
        listing = self._call(self.client.list)
        out = []
        for m in listing.models:
            name = m.model or ""
            show = self._call(functools.partial(self.client.show, name), model=name)
            info = dict(show.modelinfo or {})
            arch = info.get("general.architecture", "")
            ctx = info.get(f"{arch}.context_length")
            details = m.details
            out.append(
                InstalledModel(
                    name=name,
                    size_bytes=int(m.size or 0),
                    quant=(details.quantization_level if details else "") or "",
                    family=(details.family if details else "") or arch,
                    parameter_size=(details.parameter_size if details else "") or "",
                    context_length=int(ctx) if ctx else None,
                    num_ctx=_num_ctx(show.parameters or ""),
                )
            )
        return out

    def has(self, name: str) -> bool:
        try:
            self._call(lambda: self.client.show(name), model=name)
        except ModelNotFound:
            return False
        return True

    # --- import -----------------------------------------------------------------------------
    def upload_blob(
        self, path: Path, *, digest: str | None = None, progress: ProgressCallback = no_progress
    ) -> str:
        """Upload ``path`` as a blob unless Ollama has it; returns ``sha256:<hex>``."""
        path = Path(path)
        digest = f"sha256:{digest or sha256_of(path, progress)}"
        head = self._call(lambda: self.http.head(f"/api/blobs/{digest}"))
        size = path.stat().st_size
        if head.status_code == 200:
            progress(Progress("upload", size, size, f"{path.name} already in Ollama"))
            return digest

        def body() -> Iterator[bytes]:
            done = 0
            with open(path, "rb") as fh:
                while block := fh.read(_CHUNK):
                    done += len(block)
                    yield block
                    progress(Progress("upload", done, size, f"uploading {path.name}"))

        resp = self._call(
            lambda: self.http.post(
                f"/api/blobs/{digest}", content=body(), headers={"Content-Length": str(size)}
            )
        )
        if resp.status_code not in (200, 201):
            raise ModelCreateFailed(
                f"Uploading {path.name} to Ollama failed: HTTP {resp.status_code} {resp.text[:200]}"
            )
        return digest

    def create(
        self,
        name: str,
        files: dict[str, str],
        *,
        parameters: dict[str, Any] | None = None,
        template: str | None = None,
        status: Callable[[str], None] = lambda s: None,
    ) -> None:
        """Create ``name`` from uploaded blobs; on failure delete what was registered."""
        import ollama

        try:
            stream = self._call(
                lambda: self.client.create(
                    model=name,
                    files=files,
                    parameters=parameters or None,
                    template=template,
                    stream=True,
                ),
                model=name,
            )
            last = ""
            for update in self._iterate(stream, model=name):
                last = update.status or last
                status(last)
            if last != "success":
                raise ModelCreateFailed(f"Ollama stopped creating {name} at {last!r}")
        except (ollama.ResponseError, ModelNotFound, ModelCreateFailed) as exc:
            self._forget(name)
            if isinstance(exc, ModelCreateFailed):
                raise
            raise ModelCreateFailed(f"Ollama could not create {name}: {exc}") from exc

    def import_gguf(
        self,
        name: str,
        paths: Sequence[Path],
        *,
        num_ctx: int | None = None,
        digests: Sequence[str] = (),
        progress: ProgressCallback = no_progress,
        status: Callable[[str], None] = lambda s: None,
    ) -> str:
        """Upload every part of a (split) GGUF and create ``name``. Returns the name."""
        paths = [Path(p) for p in paths]
        files = {}
        for i, path in enumerate(paths):
            known = digests[i] if i < len(digests) else None
            files[path.name] = self.upload_blob(path, digest=known or None, progress=progress)
        template = None if gguf_has_chat_template(paths[0]) else CHATML_TEMPLATE
        if template:
            logger.warning("GGUF has no chat template; using ChatML", model=name)
        params = {"num_ctx": num_ctx} if num_ctx else None
        self.create(name, files, parameters=params, template=template, status=status)
        logger.info("model imported into Ollama", model=name, parts=len(paths))
        return name

    def pull(self, ref: str, *, progress: ProgressCallback = no_progress) -> str:
        """Ollama's own pull, e.g. ``hf.co/{user}/{repo}:{quant}``, with byte progress."""
        import ollama

        try:
            stream = self._call(lambda: self.client.pull(ref, stream=True), model=ref)
            for update in self._iterate(stream, model=ref):
                progress(
                    Progress(
                        "pull",
                        int(update.completed or 0),
                        int(update.total or 0),
                        update.status or "",
                    )
                )
        except ModelNotFound:
            raise
        except ollama.ResponseError as exc:
            self._forget(ref)
            raise DownloadError(f"Ollama could not pull {ref}: {exc.error}") from exc
        return ref

    def _iterate(self, stream: Any, *, model: str) -> Iterator[Any]:
        it = iter(stream)
        while True:
            try:
                item = self._call(lambda: next(it), model=model)
            except StopIteration:
                return
            yield item

    # --- lifecycle --------------------------------------------------------------------------
    def delete(self, name: str) -> None:
        self._call(lambda: self.client.delete(name), model=name)

    def _forget(self, name: str) -> None:
        with contextlib.suppress(ModelNotFound):
            self.delete(name)

    def warm_up(self, name: str, *, keep_alive: str | int = "30m") -> float:
        """Load the model (empty prompt) so the first question does not pay for it."""
        resp = self._call(
            lambda: self.client.generate(model=name, prompt="", keep_alive=keep_alive), model=name
        )
        return float(getattr(resp, "load_duration", 0) or 0) / 1e9

    def close(self) -> None:
        self.http.close()


def _num_ctx(parameters: str) -> int | None:
    for line in parameters.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0] == "num_ctx" and parts[1].isdigit():
            return int(parts[1])
    return None
