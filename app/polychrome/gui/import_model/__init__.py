"""Model ▸ Import Original Zhang Model…: the dialog that turns the authors' ECCV16 / SIGGRAPH17 release weights into
a Polychrome model (the job is :func:`polychrome.training.zhang.import_original_model`, run on a worker)."""
