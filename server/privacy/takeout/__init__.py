"""Take your data with you: export to a ZIP, import an "SMS Backup & Restore" file.

``smsbackup`` (the XML format, pure), ``vcard`` (contacts, pure), ``surrogates`` (repairs
the character references some backups carry, pure), ``export`` and ``importer`` (drivers
that read and write storage page by page), ``jobs`` (the background jobs, their progress,
downloads and expiry). Errors: ``errors``.
"""
