"""The real colorizer made slow, so that a run can be cancelled, interrupted or changed while it goes on.

Each test module subclasses :class:`SlowColorizer` with its own ``delay`` (some change it during a test), so one
module's setting never reaches another's.
"""

from __future__ import annotations

import time

from polychrome.runtime.colorizer import Colorizer


class SlowColorizer(Colorizer):
    """Waits ``delay`` seconds before each prediction: on the run's cancel token (a cancel ends the wait and stops the
    prediction at once), or asleep when called without progress."""

    delay = 0.15

    def predict(self, pixels, progress=None, name=""):
        if progress is not None:
            progress.cancel_token.wait(self.delay)
            progress.check()
        else:
            time.sleep(self.delay)
        return super().predict(pixels, progress=progress, name=name)
