"""Olympus: a self-hosted document question-answering appliance."""

__version__ = "0.1.0"
