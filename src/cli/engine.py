"""``python -m src engine serve``: run the local llama.cpp engine in this process.

The supervisor runs this as its engine child where there is no ``ollama`` binary. It logs
"ready" with the URL once ``/health`` answers, serves until SIGTERM/SIGINT, then stops the
engine and exits 0.
"""

from __future__ import annotations

import argparse
import signal
import threading
from pathlib import Path

import structlog

from shared_utils.llamacpp_engine import LlamaCppEngine
from src.settings import Settings

logger = structlog.get_logger(__name__)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("engine", help="run the local llama.cpp engine")
    sub = parser.add_subparsers(dest="engine_command", metavar="ACTION", required=True)
    serve = sub.add_parser("serve", help="serve a GGUF model (OpenAI API on 127.0.0.1)")
    serve.add_argument("--model", type=Path, help="GGUF file (default: settings or SmolLM2)")
    serve.add_argument("--port", type=int, help="port (default: OLYMPUS_LLAMACPP_PORT)")
    serve.add_argument("--ctx", type=int, help="context tokens (default: profile or 4096)")
    serve.add_argument("--threads", type=int, help="CPU threads (default: all cores)")
    serve.add_argument(
        "--parallel",
        type=int,
        help="answers written at once (slots; default: OLYMPUS_PARALLEL_ANSWERS or 1)",
    )
    serve.add_argument("--ready-timeout", type=float, default=None, help=argparse.SUPPRESS)
    serve.set_defaults(func=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    from src.models.model_files import bundled_gguf

    model = args.model or (
        Path(settings.llamacpp_model_path)
        if settings.llamacpp_model_path
        else bundled_gguf(settings)
    )
    engine = LlamaCppEngine(
        model,
        port=args.port if args.port is not None else settings.llamacpp_port,
        ctx=args.ctx or settings.context_tokens or 4096,
        threads=args.threads or settings.threads,
        parallel=args.parallel or settings.parallel_answers or 1,
    )
    stop = threading.Event()
    received: list[str] = []

    def on_signal(signum: int, _frame: object) -> None:
        received.append(signal.Signals(signum).name)
        stop.set()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        logger.info(
            "engine starting",
            model=str(model),
            port=engine.port,
            ctx=engine.ctx,
            threads=engine.threads,
            parallel=engine.parallel,
        )
        engine.start()
        engine.wait_ready(args.ready_timeout or settings.engine_ready_timeout_s)
        logger.info("ready", url=engine.url, openai_base_url=f"{engine.url}/v1", model=model.name)
        print(f"ready {engine.url}", flush=True)
        while not stop.wait(0.5):
            pass
        logger.info("stopping", signal=received[0] if received else "")
        return 0
    finally:
        engine.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
