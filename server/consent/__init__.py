"""Recipient consent and abuse controls: opt-out keywords, recorded consent, broadcasts.

Pure decisions live here (``keywords``, ``pacing``); storage is in
``server/storage/consent.py`` and the REST handlers in ``server/api/consent.py``.
"""
