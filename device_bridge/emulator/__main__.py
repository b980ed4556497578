"""``python -m device_bridge.emulator``: same as ``ferry emulate``."""

import sys

from .cli import main

sys.exit(main())
