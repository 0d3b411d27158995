"""The blind A/B session's model, in plain Python (no Qt): contenders, trials, the draw of the trial order and
sides, the tally with its sign test, the summary and the CSV record. :mod:`.controller` runs a session on it.
"""

from __future__ import annotations

import csv
import io
import math
import random
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Dict, Hashable, List, Optional, Sequence, Tuple, Union

import numpy as np

LEFT, RIGHT, TIE, SKIP = "left", "right", "tie", "skip"
CHOICES = (LEFT, RIGHT, TIE, SKIP)
SETUP, RUNNING, RESULTS = "setup", "running", "results"  # ABController.state
AB_PREVIEW_PIXELS = 1_000_000  # per side and image: ≈3 MB of uint8 RGB each, held for the whole session
CSV_COLUMNS = ("trial", "image", "contender_a", "contender_b", "shown_left", "choice", "winner", "timestamp", "seed")


@dataclass(frozen=True)
class Contender:
    """One side of the comparison: a model (a path, a registry name, or a runtime Colorizer) at a temperature."""

    model: Any
    T: float
    label: str = ""  # how results name it; empty: "<model name> (<file>) · T = <T>"


@dataclass
class Trial:
    """One image of the session and what happened to it."""

    number: int  # position in the session (0-based)
    path: Path
    left: str  # the contender shown on the left: "A" or "B" (hidden from the view until revealed)
    images: Optional[Dict[str, np.ndarray]] = None  # contender name -> uint8 RGB preview, once prepared
    choice: Optional[str] = None  # left | right | tie | skip
    timestamp: str = ""  # when the choice was made (local time, ISO 8601)
    error: str = ""  # why the image could not be prepared

    @property
    def right(self) -> str:
        return "B" if self.left == "A" else "A"

    @property
    def ready(self) -> bool:
        return self.images is not None

    @property
    def done(self) -> bool:
        return self.choice is not None or bool(self.error)

    @property
    def winner(self) -> str:
        """"A", "B", "tie", or "" (skipped, failed or undecided)."""
        if self.choice == LEFT:
            return self.left
        if self.choice == RIGHT:
            return self.right
        if self.choice == TIE:
            return "tie"
        return ""


def sign_test_p(k: int, n: int) -> float:
    """Two-sided exact sign test: the probability, if both contenders were equally good (p = ½), of a split at
    least as uneven as ``k`` wins out of ``n`` decided trials (ties left out)."""
    if n <= 0:
        return 1.0
    k = min(k, n - k)
    tail = sum(math.comb(n, i) for i in range(k + 1)) / 2.0 ** n
    return min(1.0, 2.0 * tail)


@dataclass(frozen=True)
class ABTally:
    wins_a: int = 0
    wins_b: int = 0
    ties: int = 0
    skips: int = 0
    failed: int = 0
    undecided: int = 0

    @property
    def decided(self) -> int:
        """Trials with a winner (ties and skips are not)."""
        return self.wins_a + self.wins_b

    @property
    def preference_a(self) -> Optional[float]:
        """Share of decided trials won by A (0..1); None before any."""
        return self.wins_a / self.decided if self.decided else None

    @property
    def preference_b(self) -> Optional[float]:
        return self.wins_b / self.decided if self.decided else None

    @property
    def p_value(self) -> float:
        """Sign test of A against B over the decided trials (1.0 when none)."""
        return sign_test_p(self.wins_a, self.decided)


def model_key(colorizer) -> Hashable:
    """Identity of a colorizer's model: the same key means the same predictions (file and input size)."""
    path = getattr(colorizer.session, "path", None) or getattr(colorizer.manifest, "path", None)
    if path:
        return (str(Path(path).resolve()), int(colorizer.input_size))
    return ("object", id(colorizer))


def _is_colorizer(obj: Any) -> bool:
    return hasattr(obj, "predict") and hasattr(obj, "manifest")


ItemLike = Union[str, Path, Any]  # a path, or a queue item with .path (and .prediction, .state)




def draw_session(n: int, seed: int) -> Tuple[List[int], List[str]]:
    """The trial order (a permutation of ``n`` images) and the contender shown on the left of each trial: as often
    A as B, in a random order (no side bias in the tally); the same seed draws the same session."""
    rng = random.Random(seed)
    order = list(range(n))
    rng.shuffle(order)
    lefts = ["A"] * (n // 2) + ["B"] * (n // 2) + ([rng.choice("AB")] if n % 2 else [])
    rng.shuffle(lefts)
    return order, lefts


def new_seed() -> int:
    return random.SystemRandom().randrange(2 ** 32)


def tally_of(trials: Sequence[Trial]) -> ABTally:
    wins = {"A": 0, "B": 0}
    ties = skips = failed = undecided = 0
    for t in trials:
        if t.choice in (LEFT, RIGHT):
            wins[t.winner] += 1
        elif t.choice == TIE:
            ties += 1
        elif t.choice == SKIP:
            skips += 1
        elif t.error:
            failed += 1
        else:
            undecided += 1
    return ABTally(wins["A"], wins["B"], ties, skips, failed, undecided)


def summary_text(tl: ABTally, name: Callable[[str], str], seed: Optional[int]) -> str:
    """One paragraph on the outcome; ``name`` names a contender ("A"/"B")."""
    if not tl.decided:
        head = "No trial was decided"
    elif tl.wins_a == tl.wins_b:
        head = f"No preference: {tl.wins_a} – {tl.wins_b}"
    else:
        best, pref, wins = ("A", tl.preference_a, tl.wins_a) if tl.wins_a > tl.wins_b else \
            ("B", tl.preference_b, tl.wins_b)
        head = f"{name(best)} preferred in {pref:.0%} of decided trials ({wins} of {tl.decided})"
    extra = f"; sign test p = {tl.p_value:.3g}" if tl.decided else ""
    return (f"{head}{extra}. Ties {tl.ties}, skipped {tl.skips}"
            + (f", failed {tl.failed}" if tl.failed else "")
            + (f", not reached {tl.undecided}" if tl.undecided else "")
            + (f". Seed {seed}." if seed is not None else "."))


def records_of(trials: Sequence[Trial], descriptions: Dict[str, str], seed: Optional[int]) -> List[Dict[str, str]]:
    """One row per trial that was decided or failed, in session order (the CSV's rows)."""
    out = []
    for t in trials:
        if t.choice is None and not t.error:
            continue
        out.append({
            "trial": str(t.number + 1),
            "image": str(t.path),
            "contender_a": descriptions.get("A", ""),
            "contender_b": descriptions.get("B", ""),
            "shown_left": t.left,
            "choice": t.choice or "error",
            "winner": t.winner,
            "timestamp": t.timestamp,
            "seed": "" if seed is None else str(seed),
        })
    return out


def csv_bytes(records: Sequence[Dict[str, str]]) -> bytes:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(CSV_COLUMNS))
    w.writeheader()
    w.writerows(records)
    return buf.getvalue().encode("utf-8")


def now() -> str:
    """The local time, ISO 8601 to the second (when a choice was made)."""
    return datetime.now().astimezone().isoformat(timespec="seconds")
