"""``python -m polychrome``: the desktop app when called without arguments (and Qt is installed), else the CLI."""

import sys


def _run() -> int:
    if len(sys.argv) == 1:
        try:
            import PySide6  # noqa: F401
        except ImportError:
            pass
        else:
            from .gui.app import main as gui_main

            return gui_main([])
    from .cli.main import main

    return main()


sys.exit(_run())
