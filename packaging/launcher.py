"""Entry script of the frozen bundle: both executables run this file and dispatch on their own name.

``polychrome-gui`` (windowed) starts the desktop app with its arguments (files to open, --quit-after ...);
``polychrome`` (console) is the command line. Any other name behaves like ``python -m polychrome``: the app
without arguments, the command line with them.
"""

import os
import sys


def _run() -> int:
    name = os.path.splitext(os.path.basename(sys.executable))[0].lower()
    gui = name.endswith("-gui") or (name != "polychrome" and len(sys.argv) == 1)
    if gui:
        from polychrome.gui.app import main as gui_main

        return gui_main(sys.argv[1:])
    from polychrome.cli.main import main as cli_main

    return cli_main(sys.argv[1:])


if __name__ == "__main__":
    import multiprocessing

    multiprocessing.freeze_support()  # child processes (training data loaders) re-enter through this script
    sys.exit(_run())
