"""Moved: `polychrome model average` (polychrome.cli.model); this shim forwards its arguments there."""
import sys

from polychrome.cli.main import main

sys.exit(main(["model", "average", *sys.argv[1:]]))
