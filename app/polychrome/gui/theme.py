"""The colour theme, app-wide: "system" (the desktop's own style and colours), "light" or "dark" (Qt's Fusion style
with a light or dark palette). pyqtgraph draws its own backgrounds, so they follow too: plots take the palette's
base and text colours, image views a neutral gray that suits the theme (photographs are judged against neutral
gray, never against a coloured or pure white surround). Views created later get the same colours through
pyqtgraph's configuration.
"""

from __future__ import annotations

from typing import Dict, List, Optional

import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication, QStyleFactory

THEMES = ("system", "light", "dark")
LABELS = {"system": "Same as the system", "light": "Light", "dark": "Dark"}

_system: Dict[str, object] = {}  # the style name and palette the app started with
current = "system"


def dark_palette() -> QPalette:
    p = QPalette()
    window, base, alt, text = QColor(45, 45, 48), QColor(30, 30, 32), QColor(40, 40, 43), QColor(225, 225, 225)
    disabled = QColor(120, 120, 120)
    roles = {
        QPalette.ColorRole.Window: window, QPalette.ColorRole.WindowText: text,
        QPalette.ColorRole.Base: base, QPalette.ColorRole.AlternateBase: alt,
        QPalette.ColorRole.ToolTipBase: QColor(60, 60, 64), QPalette.ColorRole.ToolTipText: text,
        QPalette.ColorRole.PlaceholderText: QColor(140, 140, 140),
        QPalette.ColorRole.Text: text, QPalette.ColorRole.Button: QColor(55, 55, 58),
        QPalette.ColorRole.ButtonText: text, QPalette.ColorRole.BrightText: QColor(255, 80, 80),
        QPalette.ColorRole.Light: QColor(75, 75, 78), QPalette.ColorRole.Midlight: QColor(62, 62, 65),
        QPalette.ColorRole.Mid: QColor(150, 150, 150), QPalette.ColorRole.Dark: QColor(25, 25, 27),
        QPalette.ColorRole.Shadow: QColor(10, 10, 10),
        QPalette.ColorRole.Highlight: QColor(42, 130, 218), QPalette.ColorRole.HighlightedText: QColor(255, 255, 255),
        QPalette.ColorRole.Link: QColor(90, 170, 255), QPalette.ColorRole.LinkVisited: QColor(170, 130, 255),
    }
    for role, colour in roles.items():
        p.setColor(role, colour)
    for role in (QPalette.ColorRole.WindowText, QPalette.ColorRole.Text, QPalette.ColorRole.ButtonText):
        p.setColor(QPalette.ColorGroup.Disabled, role, disabled)
    return p


def light_palette() -> QPalette:
    style = QStyleFactory.create("Fusion")
    return style.standardPalette() if style is not None else QPalette()


def is_dark(palette: Optional[QPalette] = None) -> bool:
    palette = palette or QApplication.palette()
    return palette.color(QPalette.ColorRole.Window).lightness() < 128


def view_colours(palette: Optional[QPalette] = None) -> Dict[str, QColor]:
    """``plot`` / ``text``: a plot's background and axes; ``image``: the neutral gray around photographs."""
    palette = palette or QApplication.palette()
    dark = is_dark(palette)
    return {"plot": palette.color(QPalette.ColorRole.Base), "text": palette.color(QPalette.ColorRole.Text),
            "image": QColor(38, 38, 38) if dark else QColor(160, 160, 160)}


def _color_scheme(name: str) -> None:
    """Tell the platform (Qt ≥ 6.8) which scheme we use, so native title bars and dialogs match where they can."""
    hints = QGuiApplication.styleHints()
    setter = getattr(hints, "setColorScheme", None)
    if setter is None:
        return
    scheme = {"dark": Qt.ColorScheme.Dark, "light": Qt.ColorScheme.Light}.get(name, Qt.ColorScheme.Unknown)
    try:
        setter(scheme)
    except (RuntimeError, TypeError):  # pragma: no cover - platform plugins without support
        pass


def apply_theme(name: str, app: Optional[QApplication] = None) -> str:
    """Switch the whole app to ``name`` ("system", "light", "dark"; anything else: "system"); returns it."""
    global current
    app = app or QApplication.instance()
    if app is None:
        return current
    name = name if name in THEMES else "system"
    if not _system:
        _system["style"] = app.style().name()
        _system["palette"] = QPalette(app.palette())
    _color_scheme(name)
    if name == "system":
        app.setStyle(str(_system["style"]))
        app.setPalette(_system["palette"])  # type: ignore[arg-type]
    else:
        app.setStyle("Fusion")
        app.setPalette(dark_palette() if name == "dark" else light_palette())
    current = name
    style_pyqtgraph(app)
    return name


def _graphics_views(app: QApplication) -> List[pg.GraphicsView]:
    """The pyqtgraph views in the app's windows (a scan of every widget, ``allWidgets``, can meet widgets
    half torn down by PySide and crash)."""
    views: List[pg.GraphicsView] = []
    for top in app.topLevelWidgets():
        views.extend(top.findChildren(pg.GraphicsView))
    return views


def style_pyqtgraph(app: Optional[QApplication] = None) -> None:
    """Give every pyqtgraph view (and those made later) the theme's colours."""
    app = app or QApplication.instance()
    if app is None:
        return
    c = view_colours(app.palette())
    pg.setConfigOption("background", c["plot"])
    pg.setConfigOption("foreground", c["text"])
    for w in _graphics_views(app):
        if getattr(w, "closed", False):
            continue  # a closed pyqtgraph view has cleared its scene: its items must not be touched again
        if isinstance(w, pg.PlotWidget):
            w.setBackground(c["plot"])
            for axis in w.getPlotItem().axes.values():
                item = axis["item"]
                item.setPen(c["text"])
                item.setTextPen(c["text"])
            title = w.getPlotItem().titleLabel
            if title is not None:
                title.setAttr("color", c["text"])
                title.setText(title.text)
        elif isinstance(w, pg.GraphicsView):
            w.setBackground(c["image"])
