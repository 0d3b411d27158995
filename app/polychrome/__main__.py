"""``python -m polychrome`` runs the command line (the desktop app takes this over once it lands)."""

import sys

from .cli.main import main

sys.exit(main())
