"""The temperature slider: T from 0.01 to 1 on a quadratic scale (finer steps at low T), a tick at the model's
default, a spin box where T can be typed (or stepped with the arrows / wheel) and a reset button. ``changed`` fires
while dragging (fast preview); ``committed`` on release, keyboard, a typed value and programmatic changes (exact
render).

What T does: the colour of each pixel is the annealed mean of the network's distribution over colours; a low T
moves it toward the most likely colour (the mode: bolder, blotchier where the network hesitates), T = 1 toward the
average of all candidate colours (smoother, often more muted)."""

from __future__ import annotations

import math
from typing import Optional

from PySide6.QtCore import QRect, Qt, Signal
from PySide6.QtGui import QColor, QPainter, QPen
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QDoubleSpinBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSlider,
    QStyle,
    QStyleOptionSlider,
    QWidget,
)

from ...core.decode import DEFAULT_T  # the one home of T's default and range
from ...core.decode import MAX_T as T_MAX
from ...core.decode import MIN_T as T_MIN

STEPS = 1000
DECIMALS = 3
TOOLTIP = ("Temperature of the annealed mean. Lower: each pixel moves toward its most likely colour (bolder, can "
           "be blotchy). Higher: toward the average of the candidate colours (smoother, 1 = the plain mean).")


def position_to_T(pos: int) -> float:
    """Slider position 0..STEPS → T; quadratic, so the low-T end gets most of the travel."""
    f = min(1.0, max(0.0, pos / STEPS))
    return T_MIN + (T_MAX - T_MIN) * f * f


def T_to_position(T: float) -> int:  # noqa: N802
    f = (min(T_MAX, max(T_MIN, float(T))) - T_MIN) / (T_MAX - T_MIN)
    return int(round(math.sqrt(f) * STEPS))


class _MarkedSlider(QSlider):
    """A horizontal slider that draws one tick at a chosen position (the model's default T)."""

    def __init__(self) -> None:
        super().__init__(Qt.Orientation.Horizontal)
        self.mark: Optional[int] = None

    def paintEvent(self, ev) -> None:  # noqa: N802
        super().paintEvent(ev)
        if self.mark is None:
            return
        opt = QStyleOptionSlider()
        self.initStyleOption(opt)
        groove = self.style().subControlRect(QStyle.ComplexControl.CC_Slider, opt,
                                             QStyle.SubControl.SC_SliderGroove, self)
        handle = self.style().subControlRect(QStyle.ComplexControl.CC_Slider, opt,
                                             QStyle.SubControl.SC_SliderHandle, self)
        span = max(1, groove.width() - handle.width())
        x = groove.x() + handle.width() // 2 + QStyle.sliderPositionFromValue(
            self.minimum(), self.maximum(), self.mark, span)
        p = QPainter(self)
        p.setPen(QPen(QColor("#e53935"), 2))
        r = QRect(self.rect())
        p.drawLine(x, r.bottom() - 5, x, r.bottom())
        p.drawLine(x, r.top(), x, r.top() + 5)
        p.end()


class TemperatureSlider(QWidget):
    changed = Signal(float)  # while dragging
    committed = Signal(float)  # released / keyboard / reset

    def __init__(self, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.default_T = DEFAULT_T
        self.slider = _MarkedSlider()
        self.slider.setRange(0, STEPS)
        self.slider.setSingleStep(5)
        self.slider.setPageStep(50)
        self.slider.setToolTip(TOOLTIP)
        self.spin = QDoubleSpinBox()  # type a T (Enter or leaving the field applies it); arrows/wheel step it
        self.spin.setRange(T_MIN, T_MAX)
        self.spin.setDecimals(DECIMALS)
        self.spin.setSingleStep(0.01)
        self.spin.setPrefix("T = ")
        self.spin.setKeyboardTracking(False)
        self.spin.setCorrectionMode(QAbstractSpinBox.CorrectionMode.CorrectToNearestValue)
        self.spin.setAccelerated(True)
        self.spin.setToolTip(TOOLTIP)
        self.spin.setAccessibleName("Temperature")
        self.label = self.spin  # the readout (older name)
        self.reset_button = QPushButton("Reset")
        self.reset_button.setToolTip("Back to the model's default temperature")
        name = QLabel("&Temperature")
        name.setBuddy(self.spin)
        lo, hi = QLabel("likely colour"), QLabel("average")
        for end in (lo, hi):
            end.setStyleSheet("color: palette(mid);")
            end.setToolTip(TOOLTIP)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(6, 2, 6, 2)
        lay.addWidget(name)
        lay.addWidget(lo)
        lay.addWidget(self.slider, 1)
        lay.addWidget(hi)
        lay.addWidget(self.spin)
        lay.addWidget(self.reset_button)
        self._quiet = False
        self._exact = None
        self.slider.valueChanged.connect(self._on_value)
        self.slider.sliderReleased.connect(lambda: self.committed.emit(self.value()))
        self.spin.valueChanged.connect(self._on_typed)
        self.reset_button.clicked.connect(self.reset)
        self.set_default(self.default_T)
        self.set_value(self.default_T)

    def value(self) -> float:
        """The current T: exactly what was last set (e.g. the default), else the slider position's T."""
        pos_T = position_to_T(self.slider.value())
        if self._exact is not None and T_to_position(self._exact) == self.slider.value():
            return self._exact
        return pos_T

    def set_value(self, T: float, emit: bool = False) -> None:
        self._quiet = not emit
        try:
            self.slider.setValue(T_to_position(T))
        finally:
            self._quiet = False
        self._exact = float(T)
        self._update_label()
        if emit:
            self.committed.emit(float(T))

    def follow(self, T: float) -> None:
        """Show a T set elsewhere (the controller's); never fed back: no change while the user drags the handle
        or when the slider already shows this T (so a user's move never comes back as a ``setValue``)."""
        if self.slider.isSliderDown() or float(T) == self.value():
            return
        self.set_value(T)

    def set_default(self, T: float) -> None:
        self.default_T = float(T)
        self.slider.mark = T_to_position(T)
        self.reset_button.setToolTip(f"Back to the model's default temperature ({T:.2f})")
        self.slider.update()

    def reset(self) -> None:
        self.set_value(self.default_T, emit=True)

    def _update_label(self) -> None:
        self.spin.blockSignals(True)
        try:
            self.spin.setValue(round(self.value(), DECIMALS))
        finally:
            self.spin.blockSignals(False)

    def _on_typed(self, T: float) -> None:
        """A T typed (and confirmed) or stepped in the spin box: the slider follows and the exact render runs."""
        if abs(float(T) - round(self.value(), DECIMALS)) < 0.5 * 10 ** -DECIMALS:
            return
        self.set_value(float(T), emit=True)

    def _on_value(self, _pos: int) -> None:
        if not self._quiet:
            self._exact = None
        self._update_label()
        if self._quiet:
            return
        if self.slider.isSliderDown():
            self.changed.emit(self.value())
        else:
            self.committed.emit(self.value())
