"""The queue feature: the images to colorize, the current one and its temperature.

* :mod:`.model` — plain Python (no Qt): :class:`~.model.Queue`, :class:`~.model.QueueItem`, states, T range;
* :mod:`.controller` — :class:`~.controller.ColorizeController` (model, queue, current image, T, exports) and the
  Qt item model over the queue;
* :mod:`.view` — :class:`~.view.QueueView`, the list of images.
"""
