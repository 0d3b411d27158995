"""The hint panel (a dock beside the colour distribution): the point tool's switch, the selected point's colour —
the network's suggestions at the current T, best first; an ab gamut picker drawn at the point's own L*; an eyedropper
on the reference photo or any colour image — its patch size, undo / redo / clear / hide, and the reference photo
with its strength."""

from __future__ import annotations

from typing import Any, List, Optional

import numpy as np
from PySide6.QtCore import QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QIcon, QImage, QPainter, QPen, QPixmap
from PySide6.QtWidgets import (
    QCheckBox,
    QDockWidget,
    QFileDialog,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QSlider,
    QSpinBox,
    QTabWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from ...core import imageio
from ...core.hintsfile import MAX_PATCH, MIN_PATCH
from .model import AB_RANGE, gamut_image, in_gamut, nearest_in_gamut, swatch_rgb

N_SUGGESTIONS = 6
STRENGTH_STEPS = 100  # slider steps per unit of strength
MAX_SLIDER_STRENGTH = 3.0


def _qimage(rgb: np.ndarray) -> QImage:
    rgb = np.ascontiguousarray(rgb)
    h, w, c = rgb.shape
    fmt = QImage.Format.Format_RGBA8888 if c == 4 else QImage.Format.Format_RGB888
    return QImage(rgb.data, w, h, w * c, fmt).copy()


def _swatch_icon(rgb, side: int = 28) -> QIcon:
    pm = QPixmap(side, side)
    pm.fill(QColor(*rgb))
    p = QPainter(pm)
    p.setPen(QPen(QColor(0, 0, 0, 120), 1))
    p.drawRect(0, 0, side - 1, side - 1)
    p.end()
    return QIcon(pm)


class GamutPicker(QWidget):
    """The ab plane (a* right, b* up) at one lightness: only colours that exist at that L* are drawn and offered.
    A click or drag moves the mark; the release picks the colour."""

    picked = Signal(float, float)

    def __init__(self, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.setFixedHeight(170)
        self.setMinimumWidth(170)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.L: Optional[float] = None
        self.ab: Optional[tuple] = None
        self._image: Optional[QImage] = None
        self.setToolTip("Colours that exist at this point's lightness (a* → right, b* ↑). Click to choose.")

    def set_point(self, L: Optional[float], ab: Optional[tuple]) -> None:  # noqa: N803
        if L is None:
            self.L, self._image = None, None
        elif self.L is None or abs(L - self.L) > 0.25:
            self.L = float(L)
            self._image = _qimage(gamut_image(self.L, 200))
        self.ab = ab
        self.update()

    def _square(self) -> QRectF:
        side = min(self.width(), self.height()) - 2
        return QRectF((self.width() - side) / 2, (self.height() - side) / 2, side, side)

    def _to_ab(self, pos: QPointF) -> tuple:
        r = self._square()
        a = ((pos.x() - r.left()) / r.width() * 2 - 1) * AB_RANGE
        b = (1 - (pos.y() - r.top()) / r.height() * 2) * AB_RANGE
        return float(np.clip(a, -AB_RANGE, AB_RANGE)), float(np.clip(b, -AB_RANGE, AB_RANGE))

    def _from_ab(self, a: float, b: float) -> QPointF:
        r = self._square()
        return QPointF(r.left() + (a / AB_RANGE + 1) / 2 * r.width(), r.top() + (1 - b / AB_RANGE) / 2 * r.height())

    def paintEvent(self, _ev) -> None:  # noqa: N802
        p = QPainter(self)
        r = self._square()
        p.fillRect(r, QColor(60, 60, 60))
        if self._image is None:
            p.setPen(QColor(200, 200, 200))
            p.drawText(r, Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, "Select a colour point")
            p.end()
            return
        p.drawImage(r, self._image)
        p.setPen(QPen(QColor(255, 255, 255, 90), 1, Qt.PenStyle.DotLine))
        c = self._from_ab(0, 0)
        p.drawLine(QPointF(r.left(), c.y()), QPointF(r.right(), c.y()))
        p.drawLine(QPointF(c.x(), r.top()), QPointF(c.x(), r.bottom()))
        if self.ab is not None:
            m = self._from_ab(*self.ab)
            p.setPen(QPen(QColor(0, 0, 0), 3))
            p.drawEllipse(m, 6, 6)
            p.setPen(QPen(QColor(255, 255, 255), 1.5))
            p.drawEllipse(m, 6, 6)
        p.setPen(QColor(220, 220, 220))
        p.drawText(r.adjusted(4, 2, -4, -2), Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft,
                   f"L* {self.L:.0f}")
        p.end()

    def _choose(self, pos: QPointF, final: bool) -> None:
        if self.L is None:
            return
        a, b = nearest_in_gamut(self.L, *self._to_ab(pos))
        self.ab = (a, b)
        self.update()
        if final:
            self.picked.emit(round(a, 1), round(b, 1))

    def mousePressEvent(self, ev) -> None:  # noqa: N802
        self._choose(ev.position(), False)

    def mouseMoveEvent(self, ev) -> None:  # noqa: N802
        self._choose(ev.position(), False)

    def mouseReleaseEvent(self, ev) -> None:  # noqa: N802
        self._choose(ev.position(), True)

    def click_ab(self, a: float, b: float) -> None:
        """Pick (a, b) as a click would (for tests and keyboard use)."""
        self._choose(self._from_ab(a, b), True)


class ImagePicker(QWidget):
    """A colour image shown to fit; a click picks the pixel under it (the eyedropper)."""

    picked = Signal(float, float)  # (y, x) in the image's pixels

    def __init__(self, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.rgb: Optional[np.ndarray] = None
        self._image: Optional[QImage] = None
        self.setMinimumHeight(90)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self.setCursor(Qt.CursorShape.CrossCursor)
        self.setToolTip("Eyedropper: click to give the selected point this colour (mean of 5×5 pixels)")

    def set_image(self, rgb: Optional[np.ndarray]) -> None:
        self.rgb = rgb
        if rgb is None:
            self._image = None
        else:
            small = rgb
            if small.dtype != np.uint8:
                small = (small.astype(np.float32) / 257.0 + 0.5).astype(np.uint8)
            step = max(1, int(max(small.shape[:2]) / 480))
            self._image = _qimage(np.ascontiguousarray(small[::step, ::step, :3]))
        self.updateGeometry()
        self.update()

    def sizeHint(self) -> QSize:  # noqa: N802
        return QSize(240, 150)

    def _target(self) -> QRectF:
        if self._image is None:
            return QRectF()
        w, h = self._image.width(), self._image.height()
        s = min(self.width() / w, self.height() / h)
        return QRectF((self.width() - w * s) / 2, (self.height() - h * s) / 2, w * s, h * s)

    def paintEvent(self, _ev) -> None:  # noqa: N802
        p = QPainter(self)
        if self._image is None:
            p.setPen(QColor(140, 140, 140))
            p.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap,
                       "No colour image: choose a reference or open one to pick colours from")
        else:
            p.drawImage(self._target(), self._image)
        p.end()

    def mouseReleaseEvent(self, ev) -> None:  # noqa: N802
        r = self._target()
        if self.rgb is None or r.isEmpty() or not r.contains(ev.position()):
            return
        H, W = self.rgb.shape[:2]
        pos = ev.position()
        self.picked.emit((pos.y() - r.top()) / r.height() * H, (pos.x() - r.left()) / r.width() * W)


class HintsPanel(QWidget):
    """The controls of a :class:`~.controller.HintsController`."""

    def __init__(self, controller: Any, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.c = controller
        self.picker_rgb: Optional[np.ndarray] = None  # an opened colour image (else the reference is shown)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(6, 6, 6, 6)

        # the tool
        top = QHBoxLayout()
        self.tool_button = QToolButton()
        self.tool_button.setText("Place colour points")
        self.tool_button.setCheckable(True)
        self.tool_button.setToolTip("Click the image to place a colour point; drag to move; right-click or Delete "
                                    "to remove; mouse wheel over a point: patch size")
        self.tool_button.toggled.connect(self.c.set_active)
        top.addWidget(self.tool_button)
        self.hide_box = QCheckBox("Hide")
        self.hide_box.setToolTip("Hide the points on the image (they still apply)")
        self.hide_box.toggled.connect(lambda on: self.c.set_visible(not on))
        top.addWidget(self.hide_box)
        top.addStretch(1)
        lay.addLayout(top)
        top = QHBoxLayout()
        self.undo_button = QToolButton(text="Undo")
        self.undo_button.clicked.connect(self.c.undo)
        self.redo_button = QToolButton(text="Redo")
        self.redo_button.clicked.connect(self.c.redo)
        self.clear_button = QToolButton(text="Clear all")
        self.clear_button.clicked.connect(self.c.clear)
        for b in (self.undo_button, self.redo_button, self.clear_button):
            top.addWidget(b)
        top.addStretch(1)
        lay.addLayout(top)
        self.reason_label = QLabel()
        self.reason_label.setWordWrap(True)
        self.reason_label.setStyleSheet("color: #b26a00;")
        lay.addWidget(self.reason_label)
        self.status_label = QLabel()
        self.status_label.setWordWrap(True)
        lay.addWidget(self.status_label)

        # the selected point
        self.point_box = QGroupBox("Selected point")
        pl = QGridLayout(self.point_box)
        self.swatch = QLabel()
        self.swatch.setFixedSize(36, 36)
        pl.addWidget(self.swatch, 0, 0, 2, 1)
        self.point_label = QLabel("No point selected")
        self.point_label.setWordWrap(True)
        pl.addWidget(self.point_label, 0, 1, 1, 2)
        pl.addWidget(QLabel("Patch"), 1, 1)
        self.size_box = QSpinBox()
        self.size_box.setRange(MIN_PATCH, MAX_PATCH)
        self.size_box.setSuffix(" px")
        self.size_box.setToolTip("The side of the square the point covers on the network's input (1–9 px); the "
                                 "mouse wheel over a point changes it too")
        self.size_box.valueChanged.connect(self._on_size)
        pl.addWidget(self.size_box, 1, 2)
        pl.addWidget(QLabel("Suggestions (most likely first):"), 2, 0, 1, 3)
        srow = QHBoxLayout()
        self.suggestion_buttons: List[QToolButton] = []
        for _ in range(N_SUGGESTIONS):
            b = QToolButton()
            b.setIconSize(QSize(28, 28))
            b.setAutoRaise(True)
            b.clicked.connect(lambda _c=False, btn=b: self._use_suggestion(btn))
            self.suggestion_buttons.append(b)
            srow.addWidget(b)
        srow.addStretch(1)
        pl.addLayout(srow, 3, 0, 1, 3)
        self.gamut = GamutPicker()
        self.gamut.picked.connect(lambda a, b: self.c.set_color(a, b))
        pl.addWidget(self.gamut, 4, 0, 1, 3)

        # the eyedropper and the reference
        self.ref_box = QGroupBox("Reference photo and eyedropper")
        rl = QVBoxLayout(self.ref_box)
        rrow = QHBoxLayout()
        self.choose_ref = QPushButton("Choose Reference…")
        self.choose_ref.setToolTip("A colour photo whose palette the colours move towards (no new inference)")
        self.choose_ref.clicked.connect(self.choose_reference)
        self.clear_ref = QToolButton(text="Remove")
        self.clear_ref.clicked.connect(lambda: self.c.set_reference(None))
        self.open_image = QPushButton("Pick From Another Image…")
        self.open_image.setToolTip("Open any colour image to pick point colours from (eyedropper)")
        self.open_image.clicked.connect(self.open_picker_image)
        rrow.addWidget(self.choose_ref)
        rrow.addWidget(self.clear_ref)
        rrow.addStretch(1)
        rl.addLayout(rrow)
        self.ref_label = QLabel("No reference")
        self.ref_label.setWordWrap(True)
        rl.addWidget(self.ref_label)
        srow2 = QHBoxLayout()
        srow2.addWidget(QLabel("Strength"))
        self.strength = QSlider(Qt.Orientation.Horizontal)
        self.strength.setMinimumWidth(80)
        self.strength.setRange(0, int(MAX_SLIDER_STRENGTH * STRENGTH_STEPS))
        self.strength.setValue(STRENGTH_STEPS)
        self.strength.valueChanged.connect(self._on_strength)
        self.strength.sliderReleased.connect(lambda: self.c.set_strength(self.strength_value, exact=True))
        srow2.addWidget(self.strength, 1)
        self.strength_label = QLabel("1.00")
        self.strength_label.setMinimumWidth(32)
        srow2.addWidget(self.strength_label)
        rl.addLayout(srow2)
        self.picker = ImagePicker()
        self.picker.picked.connect(self._on_eyedropper)
        rl.addWidget(self.picker, 1)
        pick_hint = QLabel("Click the image above to give the selected point its colour.")
        pick_hint.setWordWrap(True)
        pick_hint.setStyleSheet("color: gray;")
        rl.addWidget(pick_hint)
        rl.addWidget(self.open_image)
        # the two halves as tabs: the dock shares its column with the distribution and the metrics
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self.point_box.setFlat(True)
        self.ref_box.setFlat(True)
        self.point_box.setTitle("")
        self.ref_box.setTitle("")
        self.tabs.addTab(self.point_box, "Point colour")
        self.tabs.addTab(self.ref_box, "Reference && eyedropper")
        lay.addWidget(self.tabs, 1)

        controller.changed.connect(self.refresh)
        controller.availability_changed.connect(self.refresh)
        controller.selection_changed.connect(self.show_selection)
        controller.reference_changed.connect(self.show_reference)
        controller.busy_changed.connect(self.refresh)
        controller.latency_measured.connect(lambda ms: self.refresh())
        self.refresh()
        self.show_selection(None)
        self.show_reference()

    # -- from the controller ----------------------------------------------------------------------
    def refresh(self) -> None:
        c = self.c
        m = c.model
        enabled = c.points_enabled
        self.tool_button.setEnabled(enabled)
        self.tool_button.blockSignals(True)
        self.tool_button.setChecked(c.active)
        self.tool_button.blockSignals(False)
        self.reason_label.setText(c.points_reason)
        self.reason_label.setVisible(bool(c.points_reason))
        self.undo_button.setEnabled(m.can_undo)
        self.undo_button.setToolTip(f"Undo {m.undo_text}" if m.can_undo else "Nothing to undo")
        self.redo_button.setEnabled(m.can_redo)
        self.redo_button.setToolTip(f"Redo {m.redo_text}" if m.can_redo else "Nothing to redo")
        self.clear_button.setEnabled(bool(m.points))
        self.hide_box.blockSignals(True)
        self.hide_box.setChecked(not m.visible)
        self.hide_box.blockSignals(False)
        n = len(m.points)
        text = f"{n} colour point{'s' if n != 1 else ''}" if n else "No colour points on this image"
        if c.busy:
            text += " · colorizing…"
        elif c.last_latency_ms is not None and n:
            text += f" · last update {c.last_latency_ms:.0f} ms"
        self.status_label.setText(text)

    def show_selection(self, info: Optional[dict]) -> None:
        self.point_box.setEnabled(info is not None)
        if info is None:
            self.point_label.setText("No point selected: turn the tool on and click the image")
            self.swatch.setStyleSheet("background: transparent; border: 1px dashed #888;")
            for b in self.suggestion_buttons:
                b.setIcon(QIcon())
                b.setToolTip("")
                b.setEnabled(False)
            self.gamut.set_point(None, None)
            return
        L, a, b = info["L"], info["a"], info["b"]
        r, g, bl = swatch_rgb(L, a, b)
        self.swatch.setStyleSheet(f"background: rgb({r},{g},{bl}); border: 1px solid #222;")
        self.point_label.setText(f"({info['x']:.0f}, {info['y']:.0f}) · L* {L:.0f} · a* {a:.0f}, b* {b:.0f}")
        self.size_box.blockSignals(True)
        self.size_box.setValue(int(info["size"]))
        self.size_box.blockSignals(False)
        sugg = info["suggestions"]
        for i, btn in enumerate(self.suggestion_buttons):
            if i < len(sugg):
                sa, sb, p = sugg[i]
                ok = bool(in_gamut(L, np.float32(sa), np.float32(sb)))
                btn.setIcon(_swatch_icon(swatch_rgb(L, sa, sb)))
                btn.setToolTip(f"a* {sa:.0f}, b* {sb:.0f} — p = {p:.2f} at T = {info['T']:.2f}"
                               + ("" if ok else " (outside sRGB at this L*: the nearest colour is used)"))
                btn.setProperty("ab", (sa, sb))
                btn.setEnabled(True)
            else:
                btn.setIcon(QIcon())
                btn.setToolTip("")
                btn.setEnabled(False)
        self.gamut.set_point(L, (a, b))

    def show_reference(self) -> None:
        ref = self.c.model.reference
        self.clear_ref.setEnabled(bool(ref))
        self.strength.setEnabled(bool(ref))
        self.strength.blockSignals(True)
        self.strength.setValue(int(round(self.c.model.strength * STRENGTH_STEPS)))
        self.strength.blockSignals(False)
        self.strength_label.setText(f"{self.c.model.strength:.2f}")
        if ref:
            from pathlib import Path

            state = "" if self.c.reference_rgb is not None else " (reading…)"
            self.ref_label.setText(f"{Path(ref).name}{state}")
            self.ref_label.setToolTip(ref)
        else:
            self.ref_label.setText("No reference: the network's own palette")
            self.ref_label.setToolTip("")
        self.picker.set_image(self.picker_rgb if self.picker_rgb is not None else self.c.reference_rgb)

    # -- to the controller ------------------------------------------------------------------------
    @property
    def strength_value(self) -> float:
        return self.strength.value() / STRENGTH_STEPS

    def _on_strength(self, _v: int) -> None:
        self.strength_label.setText(f"{self.strength_value:.2f}")
        if self.strength.isSliderDown():
            self.c.drag_strength(self.strength_value)
        else:
            self.c.set_strength(self.strength_value, exact=True)

    def _on_size(self, v: int) -> None:
        self.c.set_size(int(v))

    def _use_suggestion(self, btn: QToolButton) -> None:
        ab = btn.property("ab")
        info = self.c.selection_info()
        if ab is None or info is None:
            return
        a, b = nearest_in_gamut(info["L"], float(ab[0]), float(ab[1]))
        self.c.set_color(round(a, 1), round(b, 1))

    def _on_eyedropper(self, y: float, x: float) -> None:
        if self.picker.rgb is not None:
            self.c.eyedropper(self.picker.rgb, y, x)

    def choose_reference(self) -> None:
        exts = " ".join(f"*{e}" for e in imageio.SUPPORTED_EXTENSIONS)
        path, _ = QFileDialog.getOpenFileName(self, "Choose a colour reference photo", "", f"Images ({exts})")
        if path:
            self.picker_rgb = None
            self.c.set_reference(path)

    def open_picker_image(self) -> None:
        exts = " ".join(f"*{e}" for e in imageio.SUPPORTED_EXTENSIONS)
        path, _ = QFileDialog.getOpenFileName(self, "Open a colour image to pick from", "", f"Images ({exts})")
        if path:
            self.load_picker_image(path)

    def load_picker_image(self, path: str) -> bool:
        try:
            from ...runtime.steer import read_reference

            self.picker_rgb = read_reference(path)
        except Exception as exc:  # noqa: BLE001 - shown, never raised into Qt
            self.c.message.emit(f"{path}: {exc}")
            return False
        self.show_reference()
        return True


class HintsDock(QDockWidget):
    def __init__(self, controller: Any, parent: Optional[QWidget] = None) -> None:
        super().__init__("Colour hints", parent)
        self.setObjectName("HintsDock")
        self.panel = HintsPanel(controller)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setWidget(self.panel)
        self.setWidget(scroll)
