"""Moved: `polychrome model stamp` (polychrome.cli.model); this shim forwards its arguments there."""
import sys

from polychrome.cli.main import main

sys.exit(main(["model", "stamp", *sys.argv[1:]]))
