"""``python -m src.api --port P``: the service API process (started by ``startup.py``).

It owns the data dir's stores: it opens the one ``RAGPipeline`` before it listens, and its
readiness URL (``/api/health``) says "starting" (503) until the embedder has loaded too. Bound to 127.0.0.1;
the front forwards ``/v1`` and ``/api`` from the public port. Exit code 2 on bad settings.
"""

from __future__ import annotations

import argparse
import sys


class Unavailable:
    """Stands in for a pipeline that could not open: every call raises why (and the fix),
    so the UI and API clients show the reason instead of a service that is not there."""

    def __init__(self, error: Exception) -> None:
        self.error = error

    def health(self) -> dict[str, dict[str, object]]:
        return {"library": {"ok": False, "detail": str(self.error)}}

    def close(self) -> None:
        """Nothing was opened."""

    def __getattr__(self, name: str):
        def fail(*_args: object, **_kwargs: object):
            raise self.error

        return fail


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m src.api", description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)

    import structlog
    import uvicorn

    from shared_utils.errors import OlympusError
    from src.access.keys import KeyStore
    from src.api.app import build_app
    from src.child_start import start_child
    from src.library.jobs import IngestQueue
    from src.models.profile import detect
    from src.pipeline import RAGPipeline

    settings = start_child()
    if settings is None:
        return 2
    try:
        pipeline: RAGPipeline | Unavailable = RAGPipeline.from_settings(
            settings, profile=detect(settings)
        )
        warm_up = pipeline.warm_up_in_background()
    except OlympusError as exc:  # e.g. an embedding mismatch: every call says it, with the fix
        structlog.get_logger(__name__).error(
            "api.library_unavailable", error=exc.message, hint=exc.hint
        )
        pipeline, warm_up = Unavailable(exc), None
    queue = IngestQueue.from_settings(settings, spool=settings.data.upload_spool)
    app = build_app(
        pipeline,
        keys=KeyStore(settings.data_dir),
        service_token=settings.service_token,
        queue=queue,
        max_upload_mb=settings.max_upload_mb,
        warm_up=warm_up,
    )
    if not isinstance(pipeline, Unavailable):  # else they wait on disk for a working library
        queue.resume(pipeline)  # uploads accepted before a crash, under their job ids
    structlog.get_logger(__name__).info("api.listening", port=args.port)
    try:
        uvicorn.run(
            app,
            host="127.0.0.1",
            port=args.port,
            log_level="warning",
            access_log=False,
            server_header=False,
            timeout_graceful_shutdown=3,
        )
    finally:
        pipeline.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
