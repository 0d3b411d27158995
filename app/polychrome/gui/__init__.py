"""The desktop app (PySide6 + pyqtgraph; the optional ``gui`` extra). Importing this package loads no Qt.

* ``app``          — ``main(argv)``: QApplication, the main window, the exception hook, ``--quit-after MS``.
* ``main_window``  — composes the views and wires them to the controller (no logic).
* ``models``       — ``ImageQueueModel`` (the queue) and ``ColorizeController`` (model, queue, current image, T).
* ``workers``      — all threading: ``Worker``/``TaskRunner`` adapt core ``Progress``/``CancelToken`` to signals;
  ``colorize_queue`` is the plain-Python queue job.
* ``widgets``      — ``ImageView``, ``TemperatureSlider``, ``QueueView``, ``DistributionDock``.

Start it with ``python -m polychrome.gui`` (or ``polychrome.gui.app.main()``).
"""
