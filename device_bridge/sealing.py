"""Message bodies and attachments sealed at rest in the bridge's journal.

The journal holds what the phone received until the server has it (and a history for
repairs): text messages and pictures. They are sealed with AES-256-GCM under a key kept
in a separate file (``journal.key``, 0600) beside the journal, so a copied journal file
alone (a backup, a synced folder) reveals no message content. Each value is bound to
what it belongs to (the item's key, an attachment's position), so sealed values cannot
be swapped between rows unnoticed. Numbers and times stay in clear: the journal matches
delivery reports and groups multipart SMS by them.
"""

from __future__ import annotations

import secrets
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from device_bridge.credentials import write_private
from device_bridge.errors import JournalError

KEY_FILE = "journal.key"
_NONCE = 12
_MAGIC = b"F1"  # version of the sealed format


def load_key(directory: Path, *, create: bool = True) -> bytes:
    """The journal key in ``directory``, created (0600) on first use when ``create``.

    Raises:
        JournalError: the key file is missing (and may not be created) or is not a key.
    """
    path = directory / KEY_FILE
    try:
        key = path.read_bytes()
    except FileNotFoundError:
        if not create:
            raise JournalError(
                f"{path} is missing: the journal's messages cannot be read without it. "
                "Restore it from the backup you made with the journal, or move the "
                "journal away to start an empty one (what it held is then lost)."
            ) from None
        write_private(path, secrets.token_bytes(32), exclusive=True)
        key = path.read_bytes()  # ours, or the one another process made first
    if len(key) != 32:
        raise JournalError(f"{path} is not a journal key (expected 32 bytes)")
    return key


class Sealer:
    """Seals and opens values of the journal; ``context`` names what a value belongs to."""

    def __init__(self, key: bytes) -> None:
        self._aead = AESGCM(key)

    def seal(self, value: bytes, context: str) -> bytes:
        nonce = secrets.token_bytes(_NONCE)
        return _MAGIC + nonce + self._aead.encrypt(nonce, value, context.encode())

    def open(self, sealed: bytes, context: str) -> bytes:
        """Raises: JournalError: the value was not sealed with this key for ``context``."""
        if not sealed.startswith(_MAGIC):
            raise JournalError("a journal value is not sealed")
        nonce = sealed[2 : 2 + _NONCE]
        try:
            return self._aead.decrypt(nonce, sealed[2 + _NONCE :], context.encode())
        except InvalidTag:
            raise JournalError("a journal value does not open with this key") from None

    def seal_text(self, text: str, context: str) -> bytes:
        return self.seal(text.encode("utf-8", "surrogatepass"), context)

    def open_text(self, sealed: bytes, context: str) -> str:
        return self.open(sealed, context).decode("utf-8", "surrogatepass")

    @staticmethod
    def is_sealed(value: object) -> bool:
        return isinstance(value, bytes) and value.startswith(_MAGIC)
