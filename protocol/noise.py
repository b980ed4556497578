"""The Noise Protocol Framework (revision 34): the parts Ferry's device link needs.

Supported: DH ``25519``; ciphers ``ChaChaPoly`` and ``AESGCM``; hashes ``BLAKE2s`` and
``SHA256``; the handshake patterns ``IK``, ``XX``, ``NK`` and ``KK``. Not supported: PSK
modifiers (so no ``MixKeyAndHash``), fallback, 448, BLAKE2b/SHA512.

Names follow the specification's sections: :class:`CipherState` (5.1),
:class:`SymmetricState` (5.2), :class:`HandshakeState` (5.3). Keys travel as raw 32-byte
strings; the only randomness is the ``random`` source a :class:`HandshakeState` uses for
an ephemeral key that was not injected::

    alice = HandshakeState("Noise_IK_25519_ChaChaPoly_BLAKE2s", initiator=True,
                           s=alice_private, rs=bob_public)
    bob = HandshakeState("Noise_IK_25519_ChaChaPoly_BLAKE2s", initiator=False, s=bob_private)
    bob.read_message(alice.write_message(b"hello"))
    alice.read_message(bob.write_message(b"welcome"))
    assert alice.result is not None   # .send, .receive, .handshake_hash, .remote_static

Errors: a handshake message that is malformed or not authentic raises
:class:`~protocol.errors.HandshakeFailed`; a transport message that fails authentication
raises :class:`~protocol.errors.DecryptionFailed`; a cipher at nonce 2**64-1 raises
:class:`~protocol.errors.NonceExhausted`. Calling things in the wrong order is local misuse
(``RuntimeError``/``ValueError``).
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol as _Interface

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from protocol.errors import DecryptionFailed, HandshakeFailed, MessageTooLarge, NonceExhausted

#: Length of a Curve25519 public key and of a DH output.
DHLEN = 32
#: Output length of both supported hashes.
HASHLEN = 32
#: Length of the AEAD authentication tag.
TAGLEN = 16
#: Largest Noise message the specification allows (section 3).
MAX_MESSAGE_LEN = 65535
#: Nonce reserved for rekeying; a CipherState whose counter reaches it is spent.
MAX_NONCE = 2**64 - 1

#: A source of random bytes, ``os.urandom``-shaped.
Random = Callable[[int], bytes]


# ------------------------------------------------------------ crypto functions (4)


class _Aead(_Interface):
    def encrypt(self, nonce: bytes, data: bytes, associated_data: bytes | None) -> bytes: ...

    def decrypt(self, nonce: bytes, data: bytes, associated_data: bytes | None) -> bytes: ...


def _chachapoly_nonce(n: int) -> bytes:
    return bytes(4) + n.to_bytes(8, "little")


def _aesgcm_nonce(n: int) -> bytes:
    return bytes(4) + n.to_bytes(8, "big")


@dataclass(frozen=True)
class Cipher:
    """An AEAD cipher function (section 4.2): the AEAD and its nonce encoding."""

    name: str
    new: Callable[[bytes], _Aead]
    nonce: Callable[[int], bytes]


@dataclass(frozen=True)
class Hash:
    """A hash function with the HMAC and HKDF built on it (sections 4.3, 5.2)."""

    name: str
    hashlib_name: str

    def hash(self, data: bytes) -> bytes:
        """HASH(data)."""
        return hashlib.new(self.hashlib_name, data).digest()

    def hmac(self, key: bytes, data: bytes) -> bytes:
        """HMAC-HASH(key, data), RFC 2104 over the hash's 64-byte block."""
        return hmac.new(key, data, self.hashlib_name).digest()

    def hkdf(self, chaining_key: bytes, ikm: bytes) -> tuple[bytes, bytes]:
        """HKDF(chaining_key, input_key_material, 2), the spec's two-output form.

        The three-output form only serves PSK handshakes, which we do not support.
        """
        temp_key = self.hmac(chaining_key, ikm)
        output1 = self.hmac(temp_key, b"\x01")
        output2 = self.hmac(temp_key, output1 + b"\x02")
        return output1, output2


CIPHERS = {
    "ChaChaPoly": Cipher("ChaChaPoly", ChaCha20Poly1305, _chachapoly_nonce),
    "AESGCM": Cipher("AESGCM", AESGCM, _aesgcm_nonce),
}
HASHES = {
    "BLAKE2s": Hash("BLAKE2s", "blake2s"),
    "SHA256": Hash("SHA256", "sha256"),
}


@dataclass(frozen=True)
class KeyPair:
    """A Curve25519 key pair; ``public`` is the raw 32-byte public key."""

    private: X25519PrivateKey
    public: bytes

    @classmethod
    def from_private(cls, private: bytes) -> KeyPair:
        """Load a raw 32-byte private key.

        Raises:
            ValueError: ``private`` is not 32 bytes.
        """
        key = X25519PrivateKey.from_private_bytes(private)
        public = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        return cls(key, public)

    @classmethod
    def generate(cls, random: Random = os.urandom) -> KeyPair:
        """GENERATE_KEYPAIR() from 32 bytes of ``random`` (X25519 clamps them)."""
        return cls.from_private(random(DHLEN))


def dh(key_pair: KeyPair, public: bytes) -> bytes:
    """DH(key_pair, public_key).

    Raises:
        HandshakeFailed: ``public`` is a low-order point (the shared secret would be all
            zeros; the spec allows rejecting it, and cryptography always does).
    """
    peer = X25519PublicKey.from_public_bytes(public)
    try:
        return key_pair.private.exchange(peer)
    except ValueError:
        raise HandshakeFailed("peer sent a low-order public key") from None


# ------------------------------------------------------------ patterns and names (7, 8)


@dataclass(frozen=True)
class HandshakePattern:
    """Pre-message tokens of each side and the message token lists, initiator first."""

    initiator_pre: tuple[str, ...]
    responder_pre: tuple[str, ...]
    messages: tuple[tuple[str, ...], ...]


PATTERNS = {
    "NK": HandshakePattern((), ("s",), (("e", "es"), ("e", "ee"))),
    "KK": HandshakePattern(("s",), ("s",), (("e", "es", "ss"), ("e", "ee", "se"))),
    "IK": HandshakePattern((), ("s",), (("e", "es", "s", "ss"), ("e", "ee", "se"))),
    "XX": HandshakePattern((), (), (("e",), ("e", "ee", "s", "es"), ("s", "se"))),
}


@dataclass(frozen=True)
class NoiseProtocol:
    """A parsed protocol name such as ``Noise_IK_25519_ChaChaPoly_BLAKE2s``."""

    name: str
    pattern: HandshakePattern
    cipher: Cipher
    hash: Hash

    @classmethod
    def from_name(cls, name: str) -> NoiseProtocol:
        """Parse a protocol name.

        Raises:
            ValueError: malformed name, or a pattern or function we do not support.
        """
        parts = name.split("_")
        if len(parts) != 5 or parts[0] != "Noise" or parts[2] != "25519":
            raise ValueError(f"unsupported Noise protocol name: {name!r}")
        _, pattern, _, cipher, hash_name = parts
        if pattern not in PATTERNS or cipher not in CIPHERS or hash_name not in HASHES:
            raise ValueError(f"unsupported Noise protocol name: {name!r}")
        return cls(name, PATTERNS[pattern], CIPHERS[cipher], HASHES[hash_name])


# ------------------------------------------------------------ CipherState (5.1)


class CipherState:
    """A key ``k`` (or none) and a nonce counter ``n``.

    With no key, encryption and decryption return their input unchanged, as the spec
    requires for the start of a handshake.
    """

    def __init__(self, cipher: Cipher, key: bytes | None = None) -> None:
        self._cipher = cipher
        self._aead: _Aead | None = None
        self._key: bytes | None = None
        self.n = 0
        self.initialize_key(key)

    def initialize_key(self, key: bytes | None) -> None:
        """InitializeKey(key): set ``k`` and reset ``n`` to zero."""
        self._key = key
        self._aead = None if key is None else self._cipher.new(key)
        self.n = 0

    def has_key(self) -> bool:
        """HasKey()."""
        return self._aead is not None

    def set_nonce(self, nonce: int) -> None:
        """SetNonce(nonce): for tests and out-of-order transports (we use neither)."""
        if not 0 <= nonce <= MAX_NONCE:
            raise ValueError("nonce out of range")
        self.n = nonce

    def encrypt_with_ad(self, ad: bytes, plaintext: bytes) -> bytes:
        """EncryptWithAd(ad, plaintext).

        Raises:
            NonceExhausted: ``n`` reached 2**64-1.
        """
        if self._aead is None:
            return plaintext
        nonce = self._next_nonce()
        ciphertext = self._aead.encrypt(nonce, plaintext, ad)
        self.n += 1
        return ciphertext

    def decrypt_with_ad(self, ad: bytes, ciphertext: bytes) -> bytes:
        """DecryptWithAd(ad, ciphertext); ``n`` only advances on success.

        Raises:
            DecryptionFailed: authentication failed (wrong key, nonce, ad or bytes).
            NonceExhausted: ``n`` reached 2**64-1.
        """
        if self._aead is None:
            return ciphertext
        nonce = self._next_nonce()
        try:
            plaintext = self._aead.decrypt(nonce, ciphertext, ad)
        except InvalidTag:
            raise DecryptionFailed("message failed authentication") from None
        self.n += 1
        return plaintext

    def rekey(self) -> None:
        """Rekey(): k = first 32 bytes of ENCRYPT(k, 2**64-1, "", 32 zero bytes); n unchanged."""
        if self._aead is None:
            raise RuntimeError("rekey needs a key")
        new_key = self._aead.encrypt(self._cipher.nonce(MAX_NONCE), bytes(32), b"")[:32]
        self._key = new_key
        self._aead = self._cipher.new(new_key)

    def _next_nonce(self) -> bytes:
        # 2**64-1 is reserved for rekey; reusing any nonce would break the AEAD.
        if self.n >= MAX_NONCE:
            raise NonceExhausted("cipher state has used all its nonces")
        return self._cipher.nonce(self.n)


# ------------------------------------------------------------ SymmetricState (5.2)


class SymmetricState:
    """The chaining key ``ck``, handshake hash ``h`` and the handshake's CipherState."""

    def __init__(self, protocol: NoiseProtocol) -> None:
        """InitializeSymmetric(protocol_name)."""
        self._protocol = protocol
        name = protocol.name.encode("ascii")
        # Short names are zero-padded, long ones hashed, so h is always HASHLEN bytes.
        self.h = name.ljust(HASHLEN, b"\0") if len(name) <= HASHLEN else protocol.hash.hash(name)
        self.ck = self.h
        self.cipher_state = CipherState(protocol.cipher)

    def mix_key(self, input_key_material: bytes) -> None:
        """MixKey(input_key_material)."""
        self.ck, temp_k = self._protocol.hash.hkdf(self.ck, input_key_material)
        self.cipher_state.initialize_key(temp_k[:32])

    def mix_hash(self, data: bytes) -> None:
        """MixHash(data)."""
        self.h = self._protocol.hash.hash(self.h + data)

    def encrypt_and_hash(self, plaintext: bytes) -> bytes:
        """EncryptAndHash(plaintext)."""
        ciphertext = self.cipher_state.encrypt_with_ad(self.h, plaintext)
        self.mix_hash(ciphertext)
        return ciphertext

    def decrypt_and_hash(self, ciphertext: bytes) -> bytes:
        """DecryptAndHash(ciphertext).

        Raises:
            DecryptionFailed: authentication failed.
        """
        plaintext = self.cipher_state.decrypt_with_ad(self.h, ciphertext)
        self.mix_hash(ciphertext)
        return plaintext

    def split(self) -> tuple[CipherState, CipherState]:
        """Split(): the initiator→responder and responder→initiator CipherStates."""
        temp_k1, temp_k2 = self._protocol.hash.hkdf(self.ck, b"")
        cipher = self._protocol.cipher
        return CipherState(cipher, temp_k1[:32]), CipherState(cipher, temp_k2[:32])


# ------------------------------------------------------------ HandshakeState (5.3)
#
# ``tok`` is one message-pattern token ("e", "s", "ee", ...); not named ``token`` so that
# secret-scanning linters do not mistake it for a credential.


@dataclass(frozen=True)
class HandshakeResult:
    """What a completed handshake yields, seen from one side.

    ``send`` encrypts what this side sends, ``receive`` decrypts what it receives;
    ``handshake_hash`` is the final ``h`` (usable for channel binding).
    """

    send: CipherState
    receive: CipherState
    handshake_hash: bytes
    remote_static: bytes | None


class HandshakeState:
    """One side of a Noise handshake.

    Messages alternate, the initiator writing first. Once the last message of the pattern
    has been written or read, :attr:`result` holds the transport CipherStates. After any
    error the state is spent: every later call raises ``RuntimeError``.
    """

    def __init__(
        self,
        protocol: str | NoiseProtocol,
        *,
        initiator: bool,
        prologue: bytes = b"",
        s: bytes | None = None,
        e: bytes | None = None,
        rs: bytes | None = None,
        re: bytes | None = None,
        random: Random = os.urandom,
    ) -> None:
        """Initialize(): mix the prologue and the pre-message public keys.

        Args:
            protocol: a protocol name or a parsed :class:`NoiseProtocol`.
            initiator: whether this side sends the first message.
            prologue: bytes both sides must agree on; a mismatch fails the handshake.
            s: this side's static private key (32 bytes), if the pattern uses one.
            e: this side's ephemeral private key; only test vectors should pass it.
            rs: the peer's static public key, when known before the handshake.
            re: the peer's ephemeral public key, when known before the handshake.
            random: source for the ephemeral key when ``e`` is not given.

        Raises:
            ValueError: unsupported protocol name, bad key length, or a key the pattern
                needs is missing.
        """
        self.protocol = (
            protocol if isinstance(protocol, NoiseProtocol) else (NoiseProtocol.from_name(protocol))
        )
        self.initiator = initiator
        self._s = None if s is None else KeyPair.from_private(s)
        self._e = None if e is None else KeyPair.from_private(e)
        self._rs = _public_key(rs)
        self._re = _public_key(re)
        self._random = random
        self._symmetric = SymmetricState(self.protocol)
        self._symmetric.mix_hash(prologue)
        self._check_keys()
        self._mix_pre_messages()
        self._index = 0
        self._spent = False
        self.result: HandshakeResult | None = None

    @property
    def remote_static(self) -> bytes | None:
        """The peer's static public key, once known (IK responder: after message 1)."""
        return self._rs

    @property
    def handshake_hash(self) -> bytes:
        """The current handshake hash ``h`` (final once :attr:`result` is set)."""
        return self._symmetric.h

    @property
    def is_my_turn(self) -> bool:
        """Whether the next handshake message is ours to write."""
        return (self._index % 2 == 0) == self.initiator

    def write_message(self, payload: bytes) -> bytes:
        """WriteMessage(payload): the next handshake message, carrying ``payload``.

        Raises:
            RuntimeError: not this side's turn, handshake over, or state spent.
            ValueError: the message would exceed 65535 bytes.
        """
        toks = self._begin(writing=True)
        try:
            message = b"".join(self._write_token(t) for t in toks)
            message += self._symmetric.encrypt_and_hash(payload)
        except BaseException:
            self._spent = True
            raise
        if len(message) > MAX_MESSAGE_LEN:
            self._spent = True
            raise ValueError("handshake message over 65535 bytes")
        self._finish()
        return message

    def read_message(self, message: bytes) -> bytes:
        """ReadMessage(message): process the peer's handshake message.

        Returns:
            The decrypted payload.

        Raises:
            RuntimeError: not the peer's turn, handshake over, or state spent.
            MessageTooLarge: over 65535 bytes.
            HandshakeFailed: truncated, tampered, wrong keys or a low-order public key.
        """
        toks = self._begin(writing=False)
        self._spent = True  # cleared on success: a failed read leaves h half-mixed
        if len(message) > MAX_MESSAGE_LEN:
            raise MessageTooLarge(len(message), MAX_MESSAGE_LEN)
        view = memoryview(message)
        try:
            for tok in toks:
                view = self._read_token(tok, view)
            payload = self._symmetric.decrypt_and_hash(bytes(view))
        except DecryptionFailed:
            raise HandshakeFailed("handshake message failed authentication") from None
        self._spent = False
        self._finish()
        return payload

    # -- internals

    def _check_keys(self) -> None:
        pattern = self.protocol.pattern
        mine, theirs = (
            (pattern.initiator_pre, pattern.responder_pre)
            if self.initiator
            else (pattern.responder_pre, pattern.initiator_pre)
        )
        my_writes = pattern.messages[0 if self.initiator else 1 :: 2]
        if self._s is None and ("s" in mine or any("s" in m for m in my_writes)):
            raise ValueError(f"{self.protocol.name} needs this side's static key s")
        if self._rs is None and "s" in theirs:
            raise ValueError(f"{self.protocol.name} needs the peer's static key rs")
        if self._re is None and "e" in theirs:
            raise ValueError(f"{self.protocol.name} needs the peer's ephemeral key re")

    def _mix_pre_messages(self) -> None:
        # The initiator's pre-message keys are hashed first, whichever side we are.
        pattern = self.protocol.pattern
        sides = ((pattern.initiator_pre, True), (pattern.responder_pre, False))
        for toks, initiators in sides:
            for tok in toks:
                self._symmetric.mix_hash(self._pre_message_key(tok, initiators))

    def _pre_message_key(self, tok: str, initiators: bool) -> bytes:
        if initiators == self.initiator:
            pair = self._s if tok == "s" else self._e
            key = None if pair is None else pair.public
        else:
            key = self._rs if tok == "s" else self._re
        if key is None:
            raise ValueError(f"pre-message key {tok!r} missing")
        return key

    def _begin(self, *, writing: bool) -> tuple[str, ...]:
        if self._spent:
            raise RuntimeError("handshake state is spent after an error")
        if self.result is not None:
            raise RuntimeError("handshake already complete")
        if self.is_my_turn != writing:
            raise RuntimeError("not this side's turn to " + ("write" if writing else "read"))
        return self.protocol.pattern.messages[self._index]

    def _finish(self) -> None:
        self._index += 1
        if self._index < len(self.protocol.pattern.messages):
            return
        c1, c2 = self._symmetric.split()
        send, receive = (c1, c2) if self.initiator else (c2, c1)
        self.result = HandshakeResult(send, receive, self._symmetric.h, self._rs)

    def _write_token(self, tok: str) -> bytes:
        if tok == "e":
            if self._e is None:
                self._e = KeyPair.generate(self._random)
            self._symmetric.mix_hash(self._e.public)
            return self._e.public
        if tok == "s":
            assert self._s is not None  # checked in __init__
            return self._symmetric.encrypt_and_hash(self._s.public)
        self._symmetric.mix_key(self._dh_token(tok))
        return b""

    def _read_token(self, tok: str, view: memoryview) -> memoryview:
        if tok == "e":
            self._re = bytes(_take(view, DHLEN))
            self._symmetric.mix_hash(self._re)
            return view[DHLEN:]
        if tok == "s":
            size = DHLEN + (TAGLEN if self._symmetric.cipher_state.has_key() else 0)
            self._rs = self._symmetric.decrypt_and_hash(bytes(_take(view, size)))
            return view[size:]
        self._symmetric.mix_key(self._dh_token(tok))
        return view

    def _dh_token(self, tok: str) -> bytes:
        # In "es"/"se"/"ee"/"ss" the first letter is the initiator's key, the second the
        # responder's; each side uses its own private half and the peer's public half.
        local, remote = (tok[0], tok[1]) if self.initiator else (tok[1], tok[0])
        key_pair = self._e if local == "e" else self._s
        public = self._re if remote == "e" else self._rs
        if key_pair is None or public is None:
            raise RuntimeError(f"token {tok!r} needs a key this handshake lacks")
        return dh(key_pair, public)


def _public_key(key: bytes | None) -> bytes | None:
    if key is not None and len(key) != DHLEN:
        raise ValueError(f"public key must be {DHLEN} bytes")
    return key


def _take(view: memoryview, size: int) -> memoryview:
    if len(view) < size:
        raise HandshakeFailed("handshake message truncated")
    return view[:size]
