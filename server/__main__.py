"""``python -m server`` is ``ferry``."""

import sys

from server.cli import main

sys.exit(main())
