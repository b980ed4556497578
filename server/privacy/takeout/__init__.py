"""Take your data with you: export to a ZIP, import an "SMS Backup & Restore" file.

Pure codecs: ``smsbackup`` (the XML format), ``vcard`` (contacts), ``surrogates``
(repairs the surrogate-pair references some backups carry), ``sealedfile`` (the job files
sealed at rest, as streams). Drivers: ``export`` and ``importer`` (read and write storage
page by page: ``server/storage/takeout.py``), ``jobs`` (the background jobs, their
progress, the one download and expiry: ``server/storage/data_jobs.py``). Errors:
``errors``. REST: ``server/api/takeout.py``.
"""
