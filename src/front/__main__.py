"""``python -m src.front --address A --port P --upstream-port U``: run the front.

Started by the supervisor (``startup.py``) as a child, after Streamlit; settings come from
the same ``OLYMPUS_*`` environment. Exit code 2 on bad settings.
"""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m src.front", description=__doc__)
    parser.add_argument("--address", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--upstream-port", type=int, required=True, help="Streamlit's port")
    parser.add_argument("--api-port", type=int, default=None, help="the service API's port")
    args = parser.parse_args(argv)

    import uvicorn

    from src.access.session_cookie import load_secret
    from src.child_start import start_child
    from src.front.app import build_app
    from src.front.config import FrontConfig

    settings = start_child()
    if settings is None:
        return 2
    secret = load_secret(settings.data_dir, settings.secret_key)
    config = FrontConfig.from_settings(settings, upstream_port=args.upstream_port, secret=secret)
    host = args.address or "127.0.0.1"
    if config.door is not None:
        config.door.announce(host, args.port)
    from src.front.api_proxy import api_mounts

    mounts = api_mounts(
        args.api_port,
        public=settings.api_public,
        local=config.local,
        address=config.address,
        data_dir=settings.data_dir,
    )
    app = build_app(config, mounts=mounts, api_port=args.api_port)
    from src.front.server import server_options

    uvicorn.run(
        app,
        host=host,
        port=args.port,
        log_level="warning",
        access_log=False,
        proxy_headers=False,
        server_header=False,
        timeout_graceful_shutdown=3,
        ws_max_size=16 * 1024 * 1024,
        **server_options(),
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
