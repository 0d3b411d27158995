"""Turning what the user named (files, folders, globs) into the list of images to colorize — and saying, entry by
entry, what was left out and why.

Nothing is skipped in silence: every entry of a folder walk that is not taken becomes a :class:`Skipped` with a
one-line reason (unsupported format, hidden file, FIFO or device, broken symbolic link, symbolic link loop,
unreadable folder, an output of an earlier Polychrome run, the run's own output folder, a batch record or a
temp file). Folders are walked with symbolic links followed, each real folder once.
"""

from __future__ import annotations

import errno
import glob
import os
import re
import stat
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Set, Tuple

from ..core import imageio
from .batch import RECORD_NAME, TEMP_PATTERN, recorded_outputs, source_key

# kinds of skipped entries; ERROR_KINDS make the run's exit status 1
UNSUPPORTED, HIDDEN, SPECIAL, LINK_LOOP, BROKEN_LINK = "unsupported", "hidden", "special", "link loop", "broken link"
UNREADABLE, OUTPUT, OUTPUT_FOLDER, RECORD, TEMP = "unreadable", "our output", "output folder", "record", "temp file"
NOT_FOUND, NO_MATCH, EMPTY, SEEN = "not found", "no match", "no images", "already listed"
SIDECAR = "hints file"
ERROR_KINDS = frozenset({UNREADABLE, NOT_FOUND, NO_MATCH})


@dataclass
class Skipped:
    path: Path
    reason: str
    kind: str

    @property
    def is_error(self) -> bool:
        return self.kind in ERROR_KINDS

    def line(self) -> str:
        return f"{self.path}: {self.reason}"


@dataclass
class Inputs:
    files: List[Path] = field(default_factory=list)
    skipped: List[Skipped] = field(default_factory=list)

    @property
    def errors(self) -> List[Skipped]:
        return [s for s in self.skipped if s.is_error]

    def counts(self) -> Dict[str, int]:
        """Skipped entries per kind."""
        return dict(Counter(s.kind for s in self.skipped))

    def summary(self) -> str:
        """e.g. ``3 skipped (2 unsupported, 1 broken link)``, or "" when nothing was skipped."""
        if not self.skipped:
            return ""
        parts = ", ".join(f"{n} {k}" for k, n in sorted(self.counts().items(), key=lambda kv: -kv[1]))
        return f"{len(self.skipped)} skipped ({parts})"


def _special_kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "not a regular file"


def _unsupported_reason(p: Path) -> str:
    ext = p.suffix.lower()
    if ext == ".gif":
        return "unsupported format .gif (GIF holds at most 256 colours; convert it to PNG or TIFF first)"
    if not ext:
        return "no file extension; not taken as an image"
    return f"unsupported format {ext} (supported: {', '.join(imageio.SUPPORTED_EXTENSIONS)})"


class _Walker:
    def __init__(self, out_dir: Optional[Path], suffix: str) -> None:
        self.out_key = source_key(out_dir) if out_dir is not None else None
        self.out_real = os.path.realpath(out_dir) if out_dir is not None else None
        self.suffix = suffix
        self.inputs = Inputs()
        self.seen_files: Set[str] = set()
        self.seen_skips: Set[str] = set()
        self.seen_dirs: Dict[Tuple[int, int], Path] = {}
        self._outputs_cache: Dict[str, Set[str]] = {}
        self._stems_cache: Dict[str, Set[str]] = {}

    def skip(self, p: Path, reason: str, kind: str) -> None:
        key = source_key(p)
        if key not in self.seen_skips:
            self.seen_skips.add(key)
            self.inputs.skipped.append(Skipped(p, reason, kind))

    def skip_os_error(self, p: Path, exc: OSError) -> None:
        """``p`` could not be looked at: a symbolic link loop, or unreadable for the OS's reason."""
        if exc.errno == errno.ELOOP:
            self.skip(p, "symbolic link loop", LINK_LOOP)
        else:
            self.skip(p, f"cannot read: {exc.strerror or exc}", UNREADABLE)

    # -- outputs of Polychrome -------------------------------------------------------------------------------------
    def outputs_in(self, folder: Path) -> Set[str]:
        key = source_key(folder)
        if key not in self._outputs_cache:
            self._outputs_cache[key] = recorded_outputs(folder)
        return self._outputs_cache[key]

    def output_reason(self, p: Path, siblings: Optional[Set[str]]) -> Optional[str]:
        """Why ``p`` is taken as an output of Polychrome (recorded, or named like one beside its source)."""
        if source_key(p) in self.outputs_in(p.parent):
            return f"an output of an earlier Polychrome run (listed in {p.parent / RECORD_NAME})"
        if self.suffix and siblings is not None:
            m = re.fullmatch(r"(.*)" + re.escape(self.suffix) + r"(?: \(\d+\))?", p.stem)
            if m and m.group(1) and m.group(1) in siblings:
                return f"named like Polychrome's output of {m.group(1)}.* beside it (suffix {self.suffix!r})"
        return None

    def stems_in(self, folder: Path) -> Set[str]:
        key = source_key(folder)
        if key not in self._stems_cache:
            try:
                names = os.listdir(folder)
            except OSError:
                names = []
            self._stems_cache[key] = {Path(n).stem for n in names if imageio.is_supported(n)}
        return self._stems_cache[key]

    def in_out_dir(self, p: Path) -> bool:
        return self.out_real is not None and os.path.realpath(p) == self.out_real

    # -- entries ---------------------------------------------------------------------------------------------------
    def add(self, p: Path) -> None:
        key = source_key(p)
        if key in self.seen_files:
            return
        self.seen_files.add(key)
        self.inputs.files.append(p)

    def walk(self, root: Path, recursive: bool) -> None:
        st = os.stat(root)
        self.seen_dirs[(st.st_dev, st.st_ino)] = root
        found_before = len(self.inputs.files)
        self._walk_dir(root, recursive)
        if len(self.inputs.files) == found_before:
            self.skip(root, "folder contains no supported images", EMPTY)

    def _walk_dir(self, folder: Path, recursive: bool) -> None:
        try:
            with os.scandir(folder) as it:
                entries = sorted(it, key=lambda e: e.name)
        except PermissionError:
            self.skip(folder, "cannot open the folder: permission denied", UNREADABLE)
            return
        except OSError as exc:
            self.skip(folder, f"cannot open the folder: {exc.strerror or exc}", UNREADABLE)
            return
        files: List[Tuple[Path, os.stat_result]] = []
        subdirs: List[Path] = []
        for e in entries:
            p = Path(e.path)
            name = e.name
            if name == RECORD_NAME:
                self.skip(p, "Polychrome's batch record", RECORD)
                continue
            if TEMP_PATTERN.match(name):
                self.skip(p, "temporary file of an unfinished write", TEMP)
                continue
            st_or = self._stat(p, e.is_symlink())
            if st_or is None:
                continue
            mode = st_or.st_mode
            if stat.S_ISDIR(mode):
                if name.startswith("."):
                    self.skip(p, "hidden folder, not searched", HIDDEN)
                elif self.in_out_dir(p):
                    self.skip(p, "the output folder of this run, not searched", OUTPUT_FOLDER)
                elif not recursive:
                    self.skip(p, "subfolder, not searched", HIDDEN)
                else:
                    ident = (st_or.st_dev, st_or.st_ino)
                    if ident in self.seen_dirs:
                        first = self.seen_dirs[ident]
                        if e.is_symlink() and _is_ancestor(first, p):
                            self.skip(p, f"symbolic link loop (leads back to {first})", LINK_LOOP)
                        else:
                            self.skip(p, f"same folder as {first}, searched once", SEEN)
                        continue
                    self.seen_dirs[ident] = p
                    subdirs.append(p)
            elif stat.S_ISREG(mode):
                if name.startswith("."):
                    self.skip(p, "hidden file", HIDDEN)
                elif name.endswith(".hints.json"):
                    self.skip(p, f"colour hints for {name[: -len('.hints.json')]}.* (read with it)", SIDECAR)
                elif not imageio.is_supported(p):
                    self.skip(p, _unsupported_reason(p), UNSUPPORTED)
                else:
                    files.append((p, st_or))
            else:
                self.skip(p, _special_kind(mode), SPECIAL)
        stems = {p.stem for p, _ in files}
        for p, _ in files:
            why = self.output_reason(p, stems)
            if why:
                self.skip(p, why, OUTPUT)
            else:
                self.add(p)
        for d in subdirs:
            self._walk_dir(d, recursive)

    def _stat(self, p: Path, is_link: bool) -> Optional[os.stat_result]:
        try:
            return os.stat(p)
        except FileNotFoundError:
            if is_link:
                try:
                    target = os.readlink(p)
                except OSError:
                    target = "?"
                self.skip(p, f"broken symbolic link (its target {target} does not exist)", BROKEN_LINK)
            else:
                self.skip(p, "vanished while the folder was read", NOT_FOUND)
        except PermissionError:
            self.skip(p, "permission denied", UNREADABLE)
        except OSError as exc:
            self.skip_os_error(p, exc)
        return None

    def one_file(self, p: Path, named: bool) -> None:
        """A file named on the command line (``named``) or matched by a glob."""
        st_or = self._stat(p, os.path.islink(p))
        if st_or is None:
            return
        if stat.S_ISDIR(st_or.st_mode):
            return  # globs: folders matched by a pattern are not searched
        if not named and not stat.S_ISREG(st_or.st_mode):
            self.skip(p, _special_kind(st_or.st_mode), SPECIAL)
            return
        if not named and not imageio.is_supported(p):
            self.skip(p, _unsupported_reason(p), UNSUPPORTED)
            return
        why = self.output_reason(p, None if named else self.stems_in(p.parent))
        if why:
            self.skip(p, why, OUTPUT)
            return
        self.add(p)  # even an unsupported or special file: reading it gives the user a precise reason


def _is_ancestor(a: Path, b: Path) -> bool:
    try:
        Path(os.path.abspath(b)).relative_to(os.path.abspath(a))
        return True
    except ValueError:
        return False


def collect_inputs(paths: Iterable[str], recursive: bool = True, out_dir: Optional[Path] = None,
                   suffix: str = "_color") -> Inputs:
    """Files, folders (searched) and glob patterns → the images to process (in order, each once) and every
    entry left out, with its reason. ``out_dir`` (the run's output folder) is never searched; files Polychrome
    wrote (listed in a batch record, or named ``<stem><suffix>`` beside ``<stem>``) are never taken."""
    w = _Walker(Path(out_dir) if out_dir is not None else None, suffix)
    for raw in paths:
        p = Path(raw).expanduser()
        try:
            st = os.stat(p)
        except FileNotFoundError:
            if os.path.islink(p):
                w.skip(p, f"broken symbolic link (its target {os.readlink(p)} does not exist)", BROKEN_LINK)
            elif any(ch in str(raw) for ch in "*?["):
                matched = sorted(Path(m) for m in glob.glob(str(raw), recursive=True))
                if not matched:
                    w.skip(Path(raw), "no files match", NO_MATCH)
                for m in matched:
                    w.one_file(m, named=False)
            else:
                w.skip(p, "file not found", NOT_FOUND)
            continue
        except PermissionError:
            w.skip(p, "permission denied (a folder on the way cannot be read)", UNREADABLE)
            continue
        except OSError as exc:
            w.skip_os_error(p, exc)
            continue
        if stat.S_ISDIR(st.st_mode):
            w.walk(p, recursive)
        else:
            w.one_file(p, named=True)
    return w.inputs
