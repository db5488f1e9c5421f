"""``python -m src ...``: the Olympus command line."""

import sys

from src.cli.main import main

sys.exit(main())
