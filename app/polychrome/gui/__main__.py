"""``python -m polychrome.gui`` starts the desktop app."""

import sys

from .app import main

sys.exit(main())
