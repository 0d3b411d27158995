"""The desktop app (PySide6 + pyqtgraph; the optional ``gui`` extra). Importing this package loads no Qt.

* ``app``          — ``main(argv)``: QApplication, the log file, the main window, the exception hook.
* ``main_window``  — composes the features' views and wires them to their controllers (no logic).
* ``workers``      — all threading: ``Worker`` / ``TaskRunner`` adapt core ``Progress`` / ``CancelToken`` to
  signals (``yielded`` / ``returned``); ``Tasks``: the latest task per key wins. The jobs themselves live in
  ``runtime.jobs`` and ``training.jobs``.
* feature folders, each with a Qt-free ``model``, a ``controller`` and views:
  ``queue`` (images, current image, T: ``ColorizeController``), ``compare`` (comparison view, metrics, curves),
  ``ab`` (blind A/B test), ``export`` (export dialog and summary), ``wizard`` (training wizard, one module per page).
* ``widgets``      — shared views: ``ImageView``, ``TemperatureSlider``, ``DistributionDock``, About, preferences.
* ``logfile``      — the rotating log file in the user log folder (``$POLYCHROME_LOG_DIR`` overrides it).

Start it with ``python -m polychrome.gui`` (or ``polychrome.gui.app.main()``).
"""
