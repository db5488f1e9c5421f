"""The process supervisor behind ``startup.py`` (see ``supervisor.py`` for the order).

``Supervisor`` is imported on first use, so the CLI can ask ``src.supervisor.lock`` whether
a supervisor runs without loading the supervisor itself.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from src.supervisor.supervisor import Supervisor

__all__ = ["Supervisor"]


def __getattr__(name: str) -> Any:
    if name == "Supervisor":
        from src.supervisor.supervisor import Supervisor

        return Supervisor
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
