"""The engine's slot: which engine starts, on which model file, and the restart with a new
model when ``models use`` records one (a mixin of :class:`~src.supervisor.supervisor.Supervisor`,
kept apart because it is the one part of the boot that depends on the engine kind)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import structlog

from shared_utils.errors import OlympusError
from src.settings import Settings
from src.supervisor import children
from src.supervisor.publisher import StatusPublisher
from src.supervisor.slot import Slot

if TYPE_CHECKING:
    from src.models.profile import Profile

logger = structlog.get_logger(__name__)


class EngineControl:
    """Starts the engine the profile chose and follows the active model (llama.cpp)."""

    settings: Settings
    profile: Profile | None  # detected at the start of run()
    status: StatusPublisher
    slots: dict[str, Slot]
    port_open: Callable[[str, int], bool]
    _env: dict[str, str]
    _engine_ready: threading.Event
    _active_stamp: float | None
    _local_model: Callable[[Settings, Profile], Path | None]
    _start: Callable[..., Slot]  # the supervisor's: starts a child in a new slot

    @property
    def detected(self) -> Profile:
        """The profile ``run`` detects first: every later step reads it."""
        if self.profile is None:
            raise RuntimeError("the supervisor read its profile before detecting it")
        return self.profile

    def _start_engine(self) -> None:
        s, p = self.settings, self.detected
        publish = self.status.section("engine")
        if p.engine == "ollama":
            host, port, local = children.ollama_address(s)
            if local and self.port_open("127.0.0.1", port):
                # Typically the system's Ollama service: use it rather than fail to bind.
                url = f"http://127.0.0.1:{port}"
                publish(
                    engine="ollama",
                    state="external",
                    url=url,
                    message="an Ollama was already running on this port; using it",
                )
                logger.info("port taken: using the Ollama already running there", url=url)
            elif local:
                self._start("engine", children.ollama_spec(s, p, self._env))
            else:
                url = f"http://{host}:{port}"
                publish(engine="ollama", state="external", url=url)
                logger.info("using an external Ollama", url=url)
        elif p.engine == "llamacpp":
            if s.llamacpp_model_path:
                self._start_llamacpp(Path(s.llamacpp_model_path))
            else:
                publish(
                    engine="llamacpp",
                    state="waiting_for_model",
                    url=f"http://127.0.0.1:{s.llamacpp_port}",
                )
                logger.info("engine waits for the model file from provisioning")
        else:
            publish(engine="none", state="disabled", url="")
            logger.info("no engine: answers come from the next backend in the chain")

    def _start_llamacpp(self, model_path: Path) -> None:
        port = self.settings.llamacpp_port
        if self.port_open("127.0.0.1", port):
            # Another program (maybe another Olympus's engine, serving another model) answers
            # there: starting ours would crash-loop, and probing would find the wrong server.
            error = (
                f"port {port} is already in use by another program; set "
                "OLYMPUS_LLAMACPP_PORT to a free port"
            )
            self.status.section("engine")(
                engine="llamacpp", state="down", last_error=error, url=f"http://127.0.0.1:{port}"
            )
            logger.error("engine not started", error=error)
            return
        self._start(
            "engine", children.llamacpp_spec(self.settings, self.detected, self._env, model_path)
        )

    def _on_model(self, model_path: Path) -> None:
        engine = self.slots.get("engine")
        if self.detected.engine == "llamacpp" and engine is None:
            logger.info("model file known, starting the engine", model=str(model_path))
            self._start_llamacpp(model_path)

    def _follow_active_model(self) -> None:
        """``models use`` on a llama.cpp engine: serve the newly recorded GGUF (the engine
        loads one file, so it restarts with the new one; answers fall back meanwhile)."""
        engine = self.slots.get("engine")
        if (
            self.detected.engine != "llamacpp"
            or engine is None
            or self.settings.llamacpp_model_path
        ):
            return
        try:
            stamp = self.settings.data.active_model.stat().st_mtime
        except FileNotFoundError:
            stamp = 0.0
        if self._active_stamp is None or stamp == self._active_stamp:
            self._active_stamp = stamp
            return
        self._active_stamp = stamp
        try:
            path = self._local_model(self.settings, self.detected)
        except OlympusError as exc:
            logger.warning("models use: the new model cannot be served", error=str(exc))
            return
        if path is None or str(path) == engine.spec.info.get("model"):
            if path is None:
                logger.warning("models use: the new model is not on disk; pull it first")
            return
        logger.info("models use: restarting the engine with the new model", model=str(path))
        engine.stop()
        del self.slots["engine"]
        self._engine_ready.clear()
        self._start_llamacpp(Path(path))
