"""What the app remembers between runs, on top of QSettings (the platform's usual place: the registry on Windows,
a plist on macOS, ``~/.config/Polychrome/Polychrome.conf`` on Linux).

:class:`AppSettings` gives typed accessors so no widget reads raw keys: the model and execution provider, the
window geometry and dock layout, the last folders used for opening and exporting, the recent files, how new
images start their temperature, the export options last chosen and the default ones, the colour theme and
whether the last session comes back by itself or after asking. ``POLYCHROME_SETTINGS`` (a file path) makes
the app use an ini file instead — tests and portable installs use it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Dict, List, Optional

from PySide6.QtCore import QByteArray, QSettings

MAX_RECENT = 12
ENV_FILE = "POLYCHROME_SETTINGS"
THEMES = ("system", "light", "dark")
SESSION_MODES = ("restore", "ask")  # at start: bring the last session back, or ask first


class AppSettings:
    """Typed access to the persistent settings. ``path``: an ini file (default: ``$POLYCHROME_SETTINGS`` or the
    platform's native store)."""

    def __init__(self, path: Optional[str] = None) -> None:
        path = path or os.environ.get(ENV_FILE)
        if path:
            self.qs = QSettings(str(path), QSettings.Format.IniFormat)
        else:
            self.qs = QSettings(QSettings.Format.NativeFormat, QSettings.Scope.UserScope, "Polychrome", "Polychrome")

    # -- helpers ------------------------------------------------------------------------------------
    def _str(self, key: str, default: str = "") -> str:
        v = self.qs.value(key, default)
        return default if v is None else str(v)

    def _float(self, key: str) -> Optional[float]:
        v = self.qs.value(key, None)
        try:
            return None if v in (None, "") else float(v)
        except (TypeError, ValueError):
            return None

    def _bool(self, key: str, default: bool = False) -> bool:
        v = self.qs.value(key, default)
        if isinstance(v, str):
            return v.strip().lower() in ("1", "true", "yes", "on")
        return bool(v)

    def _bytes(self, key: str) -> Optional[QByteArray]:
        v = self.qs.value(key, None)
        return v if isinstance(v, QByteArray) and not v.isEmpty() else None

    def _dict(self, key: str) -> Dict[str, Any]:
        """A dict stored as JSON under ``key`` ({} when missing or unreadable)."""
        try:
            d = json.loads(self._str(key, "{}"))
        except ValueError:
            return {}
        return d if isinstance(d, dict) else {}

    def _set_dict(self, key: str, options: Dict[str, Any]) -> None:
        """Store the plain values (str, int, float, bool, None) of ``options`` as JSON under ``key``."""
        keep = {k: v for k, v in options.items() if isinstance(v, (str, int, float, bool)) or v is None}
        self.qs.setValue(key, json.dumps(keep))

    def sync(self) -> None:
        self.qs.sync()

    # -- model ---------------------------------------------------------------------------------------
    @property
    def model(self) -> Optional[str]:
        """The model chosen last (a path), or None for the default model."""
        return self._str("model/path") or None

    @model.setter
    def model(self, value: Optional[str]) -> None:
        self.qs.setValue("model/path", str(value) if value else "")

    @property
    def provider(self) -> Optional[str]:
        """The execution provider forced by the user (cpu, cuda, directml, coreml), or None for automatic."""
        return self._str("model/provider") or None

    @provider.setter
    def provider(self, value: Optional[str]) -> None:
        self.qs.setValue("model/provider", value or "")

    # -- temperature ---------------------------------------------------------------------------------
    @property
    def start_T(self) -> Optional[float]:  # noqa: N802
        """The T new images start at; None: the model's own default."""
        return self._float("temperature/start")

    @start_T.setter
    def start_T(self, value: Optional[float]) -> None:  # noqa: N802
        self.qs.setValue("temperature/start", "" if value is None else float(value))

    # -- window --------------------------------------------------------------------------------------
    def save_window(self, geometry: QByteArray, state: QByteArray) -> None:
        self.qs.setValue("window/geometry", geometry)
        self.qs.setValue("window/state", state)

    def window_geometry(self) -> Optional[QByteArray]:
        return self._bytes("window/geometry")

    def window_state(self) -> Optional[QByteArray]:
        return self._bytes("window/state")

    # -- folders -------------------------------------------------------------------------------------
    def last_dir(self, what: str) -> str:
        """The last folder used for ``what`` ("open", "export", "model"); the home folder if none or gone."""
        d = self._str(f"folders/{what}")
        return d if d and Path(d).is_dir() else str(Path.home())

    def set_last_dir(self, what: str, path: str) -> None:
        p = Path(path)
        self.qs.setValue(f"folders/{what}", str(p if p.is_dir() else p.parent))

    # -- recent files --------------------------------------------------------------------------------
    def recent_files(self) -> List[str]:
        raw = self._str("recent/files", "[]")
        try:
            items = json.loads(raw)
        except ValueError:
            items = []
        return [str(x) for x in items if isinstance(x, str)][:MAX_RECENT]

    def add_recent(self, paths: List[str]) -> List[str]:
        """Put ``paths`` first in the recent list (no duplicates, at most MAX_RECENT); returns the list."""
        new = [str(Path(p).resolve()) for p in paths]
        items = new + [p for p in self.recent_files() if p not in new]
        items = list(dict.fromkeys(items))[:MAX_RECENT]
        self.qs.setValue("recent/files", json.dumps(items))
        return items

    def clear_recent(self) -> None:
        self.qs.setValue("recent/files", "[]")

    # -- export options ------------------------------------------------------------------------------
    def export_options(self) -> Dict[str, Any]:
        return self._dict("export/options")

    def set_export_options(self, options: Dict[str, Any]) -> None:
        self._set_dict("export/options", options)

    def default_export_options(self) -> Dict[str, Any]:
        """The export options chosen in Settings (what a new export starts from; empty: the built-in defaults)."""
        return self._dict("export/defaults")

    def set_default_export_options(self, options: Dict[str, Any]) -> None:
        self._set_dict("export/defaults", options)
        self.qs.remove("export/options")  # new defaults replace what the last export remembered

    def export_dialog_options(self) -> Dict[str, Any]:
        """What the export dialog starts with: the defaults from Settings, then the last export's choices."""
        return {**self.default_export_options(), **self.export_options()}

    # -- appearance and session ---------------------------------------------------------------------
    @property
    def theme(self) -> str:
        """"system" (the desktop's own colours), "light" or "dark"."""
        v = self._str("appearance/theme", "system")
        return v if v in THEMES else "system"

    @theme.setter
    def theme(self, value: str) -> None:
        self.qs.setValue("appearance/theme", value if value in THEMES else "system")

    @property
    def session_mode(self) -> str:
        """"restore": the last session comes back at start; "ask": the user is asked first."""
        v = self._str("session/mode", "restore")
        return v if v in SESSION_MODES else "restore"

    @session_mode.setter
    def session_mode(self, value: str) -> None:
        self.qs.setValue("session/mode", value if value in SESSION_MODES else "restore")
