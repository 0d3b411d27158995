"""The blind A/B feature: two contenders (a model at a temperature each) shown unlabeled over the loaded images.

* :mod:`.model` — plain Python (no Qt): contenders, trials, the draw, the tally with its sign test, the CSV record;
* :mod:`.controller` — :class:`~.controller.ABController`, a session with its previews prepared on a worker;
* :mod:`.view` — :class:`~.view.ABDialog`.
"""
