"""Command-line interface. Each command is a module with ``register(subparsers)``."""
