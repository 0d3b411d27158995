"""The export feature: write colorized images at their own T with the user's options.

* :mod:`.model` — plain Python (no Qt): the choices, option checks, the example name, the results' summary;
* :mod:`.controller` — :class:`~.controller.ExportController`, which runs the export job on a worker;
* :mod:`.view` — :class:`~.view.ExportDialog` (the options) and :class:`~.view.ExportSummaryDialog` (the outcome).
"""
