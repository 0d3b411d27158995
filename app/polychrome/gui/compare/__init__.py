"""The Compare feature: the result beside the gray input and the ground truth, metrics at T, metric-vs-T curves,
entropy and ΔE overlays.

* :mod:`.model` — plain Python (no Qt): :class:`~.model.CompareData`, measurements, colour maps, formats;
* :mod:`.controller` — :class:`~.controller.CompareController`, which follows the queue's controller;
* :mod:`.view`, :mod:`.metrics_panel` — the comparison view and the metrics dock.
"""
