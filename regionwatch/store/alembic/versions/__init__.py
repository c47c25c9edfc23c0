"""One module per schema revision: ``NNNN_<what>.py``, revision id ``NNNN``."""
