"""A supervised child process: its own session, dies with the supervisor, output logged.

Each child is started with ``subprocess.Popen`` in a new session (so it and anything it
spawns share one process group that can be signalled at once) and with
``PR_SET_PDEATHSIG=SIGKILL``, so the kernel kills it when the supervisor dies, even by
SIGKILL. Its stdout and stderr are forwarded line by line into the structured log, tagged
with the child's name.

PDEATHSIG fires when the *thread* that forked the child exits, so children are only ever
started from the supervisor's main thread.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import json
import os
import signal
import subprocess
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Protocol, TextIO

import structlog

from shared_utils.logging_setup import CONSOLE_TAG, console_notice

logger = structlog.get_logger(__name__)

_PR_SET_PDEATHSIG = 1


@dataclass(frozen=True)
class ChildSpec:
    """How to run one child: command line, environment, and the URL that says it is ready."""

    name: str
    argv: Sequence[str]
    env: Mapping[str, str]
    cwd: Path | None = None
    ready_url: str = ""  # GET answers 2xx when the child is ready; "" = ready once started
    url: str = ""  # the address users/clients reach it at (published in the status)
    info: Mapping[str, object] = field(default_factory=dict)  # extra status fields


class Process(Protocol):
    """What the supervisor needs from a running child (``Child`` or a test double)."""

    name: str
    pid: int

    def poll(self) -> int | None: ...

    def stop(self, grace_s: float) -> int: ...


ProcessFactory = Callable[[ChildSpec], Process]


_LIBC = ctypes.CDLL(None, use_errno=True)  # loaded here, not in the forked child


def _set_pdeathsig(parent: int) -> None:  # runs in the child between fork and exec
    _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    # The parent may have died before prctl ran; then nobody would ever kill us. (Compare
    # with its pid, not with 1: the supervisor is PID 1 in a container.)
    if os.getppid() != parent:
        os._exit(1)


def set_child_subreaper() -> bool:
    """Make orphaned grandchildren re-parent to this process (so none escape shutdown)."""
    return _LIBC.prctl(36, 1, 0, 0, 0) == 0  # PR_SET_CHILD_SUBREAPER


class Child:
    """A running child process. Create it with ``Child.start(spec)``."""

    def __init__(self, spec: ChildSpec, popen: subprocess.Popen[bytes]) -> None:
        self.spec = spec
        self.name = spec.name
        self.pid = popen.pid
        self._popen = popen
        self._pump = threading.Thread(
            target=_forward_output,
            args=(self.name, self.pid, popen.stdout),
            daemon=True,
            name=f"log-{self.name}",
        )
        self._pump.start()

    @classmethod
    def start(cls, spec: ChildSpec) -> Child:
        try:
            popen = subprocess.Popen(  # argv comes from settings, no shell
                list(spec.argv),
                env=dict(spec.env),
                cwd=spec.cwd,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=functools.partial(_set_pdeathsig, os.getpid()),
                close_fds=True,
            )
        except OSError as exc:
            logger.error(
                "child failed to start", child=spec.name, argv=list(spec.argv), error=str(exc)
            )
            return _FailedStart(spec, exc)  # type: ignore[return-value]
        logger.info("child started", child=spec.name, pid=popen.pid, argv=list(spec.argv))
        return cls(spec, popen)

    def poll(self) -> int | None:
        """The exit code (negative: killed by that signal), or None while it runs."""
        return self._popen.poll()

    def stop(self, grace_s: float) -> int:
        """SIGTERM the child's process group, wait up to ``grace_s``, then SIGKILL the group."""
        code = self._popen.poll()
        if code is None:
            logger.info("stopping child", child=self.name, pid=self.pid, grace_s=grace_s)
            _signal_group(self.pid, signal.SIGTERM)
            try:
                code = self._popen.wait(timeout=grace_s)
            except subprocess.TimeoutExpired:
                logger.warning(
                    "child ignored SIGTERM, killing it",
                    child=self.name,
                    pid=self.pid,
                    grace_s=grace_s,
                )
                _signal_group(self.pid, signal.SIGKILL)
                code = self._popen.wait()
        # Whatever the leader left behind in its group goes too.
        _signal_group(self.pid, signal.SIGKILL)
        self._pump.join(timeout=2)
        logger.info("child stopped", child=self.name, pid=self.pid, exit_code=code)
        return code


class _FailedStart:
    """A child whose executable could not be started: looks like one that exited at once."""

    def __init__(self, spec: ChildSpec, exc: OSError) -> None:
        self.spec = spec
        self.name = spec.name
        self.pid = 0
        self.error = f"cannot run {spec.argv[0]}: {exc.strerror or exc}"

    def poll(self) -> int:
        return 127

    def stop(self, grace_s: float) -> int:
        return 127


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    # the group may be gone already (PermissionError: the pgid was reused by another user)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def _forward_output(
    name: str, pid: int, stream: IO[bytes] | None, console: TextIO | None = None
) -> None:
    if stream is None:
        return
    log = logger.bind(child=name, pid=pid)
    with stream:
        for raw in iter(stream.readline, b""):
            # a progress bar redraws its line with "\r": only its last state is a log line
            line = raw.decode("utf-8", "replace").rstrip().rsplit("\r", 1)[-1]
            if line.startswith(CONSOLE_TAG):
                console_notice(line[len(CONSOLE_TAG) :], out=console)
            elif line:
                _log_line(log, line)


_LEVELS = ("debug", "info", "warning", "error", "critical")


def _log_line(log: Any, line: str) -> None:
    """Log one output line; a child's own JSON log record keeps its level and fields."""
    record = None
    if line.startswith("{") and line.endswith("}"):
        try:
            record = json.loads(line)
        except ValueError:
            record = None
    if not isinstance(record, dict) or "event" not in record:
        log.info(line)
        return
    level = str(record.pop("level", "info")).lower()
    event = str(record.pop("event"))
    for key in ("timestamp", "child", "pid"):
        record.pop(key, None)
    getattr(log, level if level in _LEVELS else "info")(event, **record)


def exit_reason(code: int | None) -> str:
    """Human description of an exit code.

    >>> exit_reason(-9)
    'killed by SIGKILL'
    >>> exit_reason(3)
    'exited with code 3'
    """
    if code is None:
        return "running"
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exited with code {code}"


def child_pids(parent: int) -> dict[int, str]:
    """{pid: state letter} of the processes whose parent is ``parent`` (from /proc)."""
    found: dict[int, str] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as fh:
                stat = fh.read().decode("ascii", "replace")
        except OSError:
            continue  # exited while we looked
        fields = stat[stat.rfind(")") + 2 :].split()
        if len(fields) > 1 and int(fields[1]) == parent:
            found[int(entry)] = fields[0]
    return found


def reap_strays(known: set[int]) -> list[int]:
    """Reap zombie orphans re-parented to us (we are PID 1 or a subreaper), not our own
    children (``known``), whose exit status ``subprocess`` collects itself."""
    reaped = []
    for pid, state in child_pids(os.getpid()).items():
        if state == "Z" and pid not in known:
            try:
                os.waitpid(pid, os.WNOHANG)
                reaped.append(pid)
            except ChildProcessError:
                pass  # someone else collected it first
    return reaped


def kill_strays(known: set[int]) -> list[int]:
    """SIGKILL and reap the processes re-parented to us that are not ``known`` children."""
    killed = []
    for pid in child_pids(os.getpid()):
        if pid in known:
            continue
        try:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            killed.append(pid)
        except (ProcessLookupError, ChildProcessError):
            pass
    if killed:
        logger.warning("killed stray processes", pids=killed)
    return killed
