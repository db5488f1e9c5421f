"""``python startup.py``: boot Olympus (engine, Streamlit, model) and keep it up.

The container's entry point and the one command to run on a bare machine. Configuration
comes from ``OLYMPUS_*`` environment variables (see README); this script only wires.
Exit codes: 0 stopped, 1 a child kept failing, 2 bad settings or already running,
130 SIGINT, 143 SIGTERM.
"""

from __future__ import annotations

import sys


def main(argv: list[str]) -> int:
    if any(a in ("-h", "--help") for a in argv):
        print(__doc__.strip())
        return 0
    if argv:
        print(f"error: startup.py takes no arguments (got {' '.join(argv)})", file=sys.stderr)
        print(
            "hint: configure it with OLYMPUS_* environment variables (see README).", file=sys.stderr
        )
        return 2
    from shared_utils.errors import OlympusError
    from shared_utils.logging_setup import configure_logging
    from src.settings import load_settings, private_files
    from src.supervisor import Supervisor

    try:
        settings = load_settings()
        private_files()  # data files 0600, folders 0700 (children inherit the umask)
        configure_logging(
            settings.log_format_resolved, settings.log_level, secrets=settings.secret_values()
        )
        supervisor = Supervisor(settings, subreaper=True)
        supervisor.install_signal_handlers()
        return supervisor.run()
    except OlympusError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        if exc.hint:
            print(f"hint: {exc.hint}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
