"""``python -m device_bridge``."""

import sys

from device_bridge.cli import main

sys.exit(main())
