"""Errors of the takeout package.

Hierarchy::

    TakeoutError                    base
    ├── UnreadableFile              an uploaded file is not what it claims to be
    │   ├── NotSmsBackup            not an "SMS Backup & Restore" XML file (or malformed)
    │   └── NotVCard                not a vCard file
    ├── FileTooLarge                an upload over the import limit
    ├── Busy                        a job of that kind is already running
    └── NoDownload                  nothing this session may download under that id

A message of an import that cannot be stored (too long, bad attachments) is not an error:
it is counted as refused in the job's summary and the rest goes on.
"""

from __future__ import annotations


class TakeoutError(Exception):
    """Base of the errors of ``server.privacy.takeout``; ``str()`` is safe to show."""


class UnreadableFile(TakeoutError):
    """An uploaded file cannot be read as its kind."""


class NotSmsBackup(UnreadableFile):
    """Not a well-formed "SMS Backup & Restore" XML file (or one with a DTD/entities)."""


class NotVCard(UnreadableFile):
    """Not a vCard file."""


class FileTooLarge(TakeoutError):
    """An upload larger than the import limit."""


class Busy(TakeoutError):
    """A job of the same kind is already running for the account."""


class NoDownload(TakeoutError):
    """No export to download here: another account's, another session's, not ready,
    already downloaded, or expired."""
