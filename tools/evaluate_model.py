"""Moved: `polychrome model evaluate` (polychrome.cli.model); this shim forwards its arguments there."""
import sys

from polychrome.cli.main import main

sys.exit(main(["model", "evaluate", *sys.argv[1:]]))
