"""The process supervisor behind ``startup.py`` (see ``supervisor.py`` for the order)."""

from src.supervisor.supervisor import Supervisor

__all__ = ["Supervisor"]
