"""``python -m vegdask.cli``."""

import sys

from vegdask.cli import main

sys.exit(main())
