"""Files of exports and imports sealed at rest, written and read as streams (over any
binary file object; :func:`create_private` and :func:`open_sealed` open them on disk).

Message bodies and attachments are sealed in the database; an export's ZIP and an
import's upload must not undo that by lying in the data directory in clear for a day.
Each job has a random 256-bit file key, itself sealed with the account's data key in the
job's row: a copy of the data directory without the database (and its master key) reads
nothing, and destroying the account's data key destroys every such file with it.

Format: a sequence of records ``length (4 bytes, big-endian) || nonce (12) ||
AES-256-GCM ciphertext``, each holding up to :data:`CHUNK` bytes. The additional data
binds the file's context, the record's index and whether it is the last, so records
cannot be reordered, dropped, moved to another file, or the file cut short unnoticed.
"""

from __future__ import annotations

import io
import os
import struct
from pathlib import Path
from typing import BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

#: Plaintext bytes per record.
CHUNK = 1024 * 1024
_NONCE = 12
_TAG = 16
_LENGTH = struct.Struct(">I")


class SealedFileError(OSError):
    """A sealed file does not open: wrong key or context, tampered with, or cut short."""


def _aad(context: bytes, index: int, last: bool) -> bytes:
    return b"ferry-takeout:" + context + struct.pack(">Q?", index, last)


class SealedWriter(io.RawIOBase):
    """Write-only, unseekable: what is written is sealed record by record into ``f``."""

    def __init__(self, f: BinaryIO, key: bytes, context: bytes) -> None:
        super().__init__()
        self._f = f
        self._aead = AESGCM(key)
        self._context = context
        self._buffer = bytearray()
        self._index = 0
        self.plain_size = 0

    def writable(self) -> bool:
        return True

    def write(self, data: bytes | bytearray | memoryview) -> int:  # type: ignore[override]
        if self.closed:
            raise ValueError("write to a closed sealed file")
        self._buffer += data
        self.plain_size += len(data)
        while len(self._buffer) > CHUNK:
            self._emit(bytes(self._buffer[:CHUNK]), last=False)
            del self._buffer[:CHUNK]
        return len(data)

    def _emit(self, plain: bytes, *, last: bool) -> None:
        nonce = os.urandom(_NONCE)
        sealed = self._aead.encrypt(nonce, plain, _aad(self._context, self._index, last))
        self._f.write(_LENGTH.pack(len(sealed)) + nonce + sealed)
        self._index += 1

    def close(self) -> None:
        """Seal what is left as the last record, then close the underlying file."""
        if not self.closed:
            try:
                self._emit(bytes(self._buffer), last=True)
                self._buffer.clear()
                self._f.close()
            finally:
                super().close()


class SealedReader(io.RawIOBase):
    """Read-only: the plaintext of a file :class:`SealedWriter` wrote.

    Raises (from reads):
        SealedFileError: the file does not open (see the class).
    """

    def __init__(self, f: BinaryIO, key: bytes, context: bytes) -> None:
        super().__init__()
        self._f = f
        self._aead = AESGCM(key)
        self._context = context
        self._plain = b""
        self._at = 0
        self._index = 0
        self._ended = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        while self._at >= len(self._plain) and not self._ended:
            self._plain, self._at = self._next(), 0
        n = min(len(buffer), len(self._plain) - self._at)
        buffer[:n] = self._plain[self._at : self._at + n]
        self._at += n
        return n

    def _next(self) -> bytes:
        head = self._f.read(_LENGTH.size)
        if len(head) < _LENGTH.size:
            raise SealedFileError("the sealed file is cut short")
        (length,) = _LENGTH.unpack(head)
        if length > CHUNK + _TAG:
            raise SealedFileError("the sealed file is damaged")
        nonce = self._f.read(_NONCE)
        sealed = self._f.read(length)
        if len(nonce) < _NONCE or len(sealed) < length:
            raise SealedFileError("the sealed file is cut short")
        for last in (False, True):
            try:
                plain = self._aead.decrypt(nonce, sealed, _aad(self._context, self._index, last))
            except InvalidTag:
                continue
            self._index += 1
            if last:
                self._ended = True
                if self._f.read(1):
                    raise SealedFileError("the sealed file has bytes after its end")
            return plain
        raise SealedFileError("the sealed file does not open")

    def close(self) -> None:
        if not self.closed:
            try:
                self._f.close()
            finally:
                super().close()


def create_private(path: Path) -> BinaryIO:
    """A new file only the server's user can read (never an existing one)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    return open(fd, "wb")


def seal_to(path: Path, key: bytes, context: bytes) -> SealedWriter:
    """A new sealed file at ``path``."""
    return SealedWriter(create_private(path), key, context)


def open_sealed(path: Path, key: bytes, context: bytes) -> io.BufferedReader:
    """The plaintext of the sealed file at ``path``, buffered."""
    return io.BufferedReader(SealedReader(path.open("rb"), key, context), CHUNK)
