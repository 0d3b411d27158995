"""Polychrome: colorize grayscale photographs (colorization as classification)."""

__version__ = "0.1.0"
