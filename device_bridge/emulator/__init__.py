"""A virtual GSM network of AT modems on real pseudo-terminals (see ``run.py``)."""
