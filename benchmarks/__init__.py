"""Benchmarks: each module runs as ``.venv/bin/python -m benchmarks.<name>`` and prints its figures."""
