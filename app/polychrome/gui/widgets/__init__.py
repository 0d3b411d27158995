"""Widgets: views only. They show what a controller gives them and report what the user did."""

from .distribution import DistributionDock
from .image_view import ImageView
from .temperature import TemperatureSlider

__all__ = ["DistributionDock", "ImageView", "TemperatureSlider"]
