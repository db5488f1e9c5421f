"""The stand-in ``ollama`` executable for tests: Ollama's REST API, answered by real llama.cpp.

No Ollama binary exists here. This is the Ollama double (``ollama_server`` + its routes) with
the real parts swapped in: models imported from an uploaded GGUF blob are kept under
``OLLAMA_MODELS`` (blobs as ``blobs/sha256-<hex>`` like Ollama; a small JSON manifest per
model, not Ollama's on-disk manifest format) and survive a restart; ``/api/chat`` and
``/api/generate`` load the model in llama.cpp (``llama_runner.Runner``, in-process via
xllamacpp) on first use, pass the request's options through, stream the generated text as
NDJSON with Ollama's final stats, and unload it after ``keep_alive`` (``0``: at once).
``/api/pull`` cannot reach a registry: it fails like an offline Ollama, except for a model
already present. It stays under ``tests/`` and is never part of the shipped image.

Commands, as the real binary: ``ollama serve`` (``OLLAMA_HOST``, ``OLLAMA_MODELS``,
``OLLAMA_KEEP_ALIVE``, ``OLLAMA_CONTEXT_LENGTH``, ``OLLAMA_MAX_LOADED_MODELS`` (default 1
here, to spare memory on small test machines); logs to stderr; stops cleanly with exit 0 on
SIGTERM/SIGINT) and ``ollama --version``. Threads: a request's ``num_thread``, else
``OLLAMA_STANDIN_THREADS`` (stand-in only), else 1, where the real Ollama takes every
physical core: on 2 cores oversubscribed by other test runs, llama.cpp with 2 threads took
26 s for a 250-token prompt and 24 tokens, with 1 thread 3-4 s. The launcher is
``tests/doubles/bin/ollama``.

An Ollama release tarball holding the stand-in, laid out like the real one (``bin/ollama``,
``lib/ollama/...``) for the Dockerfile's ``tar -C /usr -xzf``; it needs ``python3`` with
xllamacpp on PATH and nothing else (``write_tarball`` returns its sha256)::

    .venv/bin/python -c "from tests.doubles.ollama_standin import write_tarball as w; \\
        print(w('ollama-linux-amd64.tgz'))"

The launcher imports ``doubles.ollama_standin`` from ``<its dir>/../lib/ollama`` (the tarball)
or from ``tests/`` (this repository); these modules import each other relatively only.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import signal
import sys
import tarfile
import threading
import time
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any
from urllib.parse import quote

from .llama_runner import Runner, to_llama_request
from .ollama_server import VERSION, Answer, OllamaDouble, _keep_alive_seconds, _Model

logger = logging.getLogger("ollama")
LAUNCHER = Path(__file__).with_name("bin") / "ollama"
# The modules the stand-in runs on (standard library and xllamacpp aside).
MODULES = (
    "__init__.py",
    "ollama_standin.py",
    "ollama_server.py",
    "ollama_routes.py",
    "llama_runner.py",
    "gguf_header.py",
)
_REAP_S = 0.25
_STOP_WAIT_S = 5.0


def parse_host(value: str) -> tuple[str, str, int]:
    """(scheme, host, port) of ``OLLAMA_HOST``, as Ollama's ``envconfig.Host`` reads it.

    >>> parse_host(""), parse_host("127.0.0.1:8080"), parse_host("http://localhost")
    (('http', '127.0.0.1', 11434), ('http', '127.0.0.1', 8080), ('http', 'localhost', 80))
    >>> parse_host("0.0.0.0"), parse_host(":9000"), parse_host("https://[::1]:9443/x")
    (('http', '0.0.0.0', 11434), ('http', '', 9000), ('https', '::1', 9443))
    """
    scheme, sep, hostport = value.strip().partition("://")
    default_port = 11434
    if not sep:
        scheme, hostport = "http", value.strip()
    elif scheme in ("http", "https"):
        default_port = 80 if scheme == "http" else 443
    hostport = hostport.split("/", 1)[0]
    host, port = "127.0.0.1", default_port
    if hostport.startswith("["):  # [v6]:port or [v6]
        inner, _, rest = hostport[1:].partition("]")
        host = inner
        port_text = rest[1:] if rest.startswith(":") else ""
    elif hostport.count(":") == 1:
        host, port_text = hostport.split(":")
    else:
        host, port_text = hostport or "127.0.0.1", ""
    if port_text:
        port = int(port_text) if port_text.isdigit() and int(port_text) <= 65535 else default_port
    return scheme, host, port


class OllamaStandin(OllamaDouble):
    """The double with a persistent model store and llama.cpp runners."""

    def __init__(
        self,
        store: Path,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        keep_alive_s: float = 300.0,
        context_length: int = 4096,
        max_loaded: int = 1,
        threads: int = 1,
    ) -> None:
        super().__init__(
            models=[], host=host, port=port, blob_dir=store / "blobs", keep_alive_s=keep_alive_s
        )
        self.store = store
        self.manifests = store / "manifests"
        self.manifests.mkdir(parents=True, exist_ok=True)
        self.context_length, self.max_loaded, self.threads = context_length, max_loaded, threads
        self.runners: dict[str, Runner] = {}
        self.busy = threading.Lock()  # one request at a time touches the runners
        known = {f.name for f in fields(_Model)}
        for path in sorted(self.manifests.glob("*.json")):
            try:
                data = json.loads(path.read_text())
                self.models[data["name"]] = _Model(**{k: v for k, v in data.items() if k in known})
            except (OSError, ValueError, KeyError, TypeError) as exc:
                logger.warning("skipping unreadable manifest %s: %s", path.name, exc)
        self._reaper = threading.Thread(target=self._reap, name="keep-alive", daemon=True)

    def start(self) -> OllamaStandin:
        super().start()
        self._reaper.start()
        return self

    def stop(self) -> None:
        super().stop()  # sets ``stopping``: the reaper and scripted waits end
        if self.busy.acquire(timeout=_STOP_WAIT_S):  # let an answer in flight finish
            try:
                for name in list(self.runners):
                    self._unload_runner(name)
            finally:
                self.busy.release()

    # --- the model store -----------------------------------------------------------------
    def _manifest(self, name: str) -> Path:
        return self.manifests / (quote(name, safe="") + ".json")

    def register(self, model: _Model) -> None:
        tmp = self._manifest(model.name).with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(model)))
        tmp.replace(self._manifest(model.name))
        super().register(model)

    def forget(self, name: str) -> _Model | None:
        self._manifest(name).unlink(missing_ok=True)
        return super().forget(name)

    # --- runners -------------------------------------------------------------------------
    def load(self, model: _Model, options: dict[str, Any]) -> float:
        """Start (or reuse) the model's runner; held ``busy`` until ``keep()``."""
        self.busy.acquire()
        try:
            return self._load(model, options)
        except BaseException:
            self.busy.release()
            raise

    def _load(self, model: _Model, options: dict[str, Any]) -> float:
        ctx = int(options.get("num_ctx") or model.parameters.get("num_ctx") or self.context_length)
        with self.lock:
            self.loaded[model.name] = time.time() + 10**9  # in use
            runner = self.runners.get(model.name)
        if runner is not None and runner.ctx == ctx:
            return 0.0
        if not model.blob or not self.has_blob(model.blob):
            raise RuntimeError(
                f'model "{model.name}" has no weights here: the stand-in can run '
                "only models created from an uploaded GGUF blob"
            )
        self._unload_runner(model.name)  # another context size: reload, as Ollama does
        for other in [n for n in self.runners if n != model.name][self.max_loaded - 1 :]:
            self._unload_runner(other)
        logger.info('loading model "%s" from %s, num_ctx %d', model.name, model.blob, ctx)
        runner = Runner(
            self.blob_path(model.blob),
            ctx=ctx,
            threads=int(options.get("num_thread") or self.threads),
        )
        with self.lock:
            self.runners[model.name] = runner
        logger.info('model "%s" loaded in %.2f s', model.name, runner.load_s)
        return runner.load_s

    def keep(self, name: str, seconds: float) -> None:
        self.busy.release()
        super().keep(name, seconds)

    def unload(self, name: str) -> None:
        with self.busy:
            self._unload_runner(name)

    def _unload_runner(self, name: str) -> None:
        with self.lock:
            self.loaded.pop(name, None)
            runner = self.runners.pop(name, None)
        if runner is not None:
            runner.close()
            logger.info('model "%s" unloaded', name)

    def _reap(self) -> None:
        while not self.stopping.wait(_REAP_S):
            with self.lock:
                expired = [n for n, until in self.loaded.items() if until < time.time()]
            for name in expired:
                with self.busy:  # a request may have used it meanwhile: check again
                    if self.loaded.get(name, float("inf")) < time.time():
                        self._unload_runner(name)

    def generate(self, model: _Model, body: dict[str, Any], chat: bool) -> Answer:
        request, as_chat = to_llama_request(body, chat=chat, parameters=model.parameters)
        answer = Answer([])
        answer.pieces = self.runners[model.name].stream(request, chat=as_chat, answer=answer)
        return answer

    def log_request(self, client: str, line: str) -> None:
        logger.info("[GIN] %s | %s", client, line)


def serve(env: dict[str, str]) -> int:
    """``ollama serve`` until SIGTERM/SIGINT; 0 on a clean stop, 1 when it cannot listen."""
    _, host, port = parse_host(env.get("OLLAMA_HOST", ""))
    store = Path(env.get("OLLAMA_MODELS") or Path.home() / ".ollama" / "models")
    server = OllamaStandin(
        store,
        host=host,
        port=port,
        keep_alive_s=_keep_alive_seconds(env.get("OLLAMA_KEEP_ALIVE") or None, 300.0),
        context_length=int(env.get("OLLAMA_CONTEXT_LENGTH") or 4096),
        max_loaded=max(1, int(env.get("OLLAMA_MAX_LOADED_MODELS") or 1)),
        threads=max(1, int(env.get("OLLAMA_STANDIN_THREADS") or 1)),
    )
    try:
        server.start()
    except OSError as exc:
        logger.error("Error: listen tcp %s:%d: %s", host, port, exc)
        return 1
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    logger.info(
        "Listening on %s:%d (version %s), models in %s, %d model(s)",
        host,
        server.port,
        VERSION,
        store,
        len(server.models),
    )
    stop.wait()
    logger.info("shutting down")
    server.stop()
    return 0


def main(argv: list[str], env: dict[str, str] | None = None) -> int:
    logging.basicConfig(
        stream=sys.stderr,
        level=logging.INFO,
        format='time=%(asctime)s level=%(levelname)s source=standin msg="%(message)s"',
    )
    if argv[:1] in (["--version"], ["-v"], ["version"]):
        print(f"ollama version is {VERSION}")
        return 0
    if argv[:1] == ["serve"]:
        return serve(dict(os.environ if env is None else env))
    print(
        "Usage:\n  ollama serve\n  ollama --version\n\n(the test stand-in implements only "
        "these; use the REST API for the rest)",
        file=sys.stderr,
    )
    return 0 if argv[:1] in (["-h"], ["--help"], ["help"]) else 1


def write_tarball(dest: str | Path) -> str:
    """Write the stand-in as ``bin/ollama`` + ``lib/ollama/doubles/*.py`` (gzip); its sha256.
    The same files give the same bytes (no mtimes), so an image build can cache the layer."""
    import gzip

    def owned_by_root(mode: int) -> Any:
        def fix(info: tarfile.TarInfo) -> tarfile.TarInfo:
            info.mode, info.uid, info.gid, info.uname, info.gname = mode, 0, 0, "root", "root"
            info.mtime = 0
            return info

        return fix

    with (
        open(dest, "wb") as out,
        gzip.GzipFile("", "wb", fileobj=out, mtime=0) as raw,
        tarfile.open(fileobj=raw, mode="w") as tar,
    ):
        tar.add(LAUNCHER, "bin/ollama", filter=owned_by_root(0o755))
        for name in MODULES:
            tar.add(
                Path(__file__).with_name(name),
                f"lib/ollama/doubles/{name}",
                filter=owned_by_root(0o644),
            )
    return hashlib.sha256(Path(dest).read_bytes()).hexdigest()
