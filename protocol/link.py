"""Ferry's device-link session: a Noise handshake, then transport encryption, sans I/O.

The bridge (initiator) and the server (responder) run ``Noise_IK_25519_ChaChaPoly_BLAKE2s``
with the prologue ``b"ferry-link/1"``. The bridge knows the server's static public key from
the pairing code; the server learns the bridge's static key from handshake message 1 and
must look it up in its device table before answering::

    bridge = LinkInitiator(bridge_private, server_public)
    server = LinkResponder(server_private)
    device_key, hello = server.receive_hello(bridge.start(encode(device_hello)))
    # ... server checks device_key; if unknown, it closes the connection here ...
    welcome = bridge.receive_handshake(server.accept(encode(welcome_msg)))
    frame = bridge.encrypt(b"...")          # one websocket binary frame
    server.decrypt(frame)

Each websocket frame carries exactly one Noise message. Nonces are implicit (a counter per
direction), so a frame that is replayed, reordered, dropped-then-resumed, truncated or
tampered with fails authentication.

Security notes for the drivers:

* Message 1 proves that its sender holds the bridge's static key, but not that it is fresh:
  an attacker can replay a recorded message 1 and the server will answer (it cannot read
  the answer). Treat the hello as *who*, and act on the session only after the first
  transport frame from the bridge has decrypted.
* Transport frames may be up to 1 MiB + 16 bytes, above the Noise specification's
  65535-byte message limit. ChaChaPoly has no such limit itself; the cap exists for
  transports with 16-bit length prefixes, and websockets frame messages themselves.
* Keys are never logged or put into error messages.
"""

from __future__ import annotations

import enum
import os
from collections.abc import Callable
from typing import ClassVar, TypeVar

from protocol.codec import DEFAULT_MAX_SIZE
from protocol.errors import DecryptionFailed, MessageTooLarge, ProtocolError, SessionFailed
from protocol.noise import (
    DHLEN,
    TAGLEN,
    HandshakeResult,
    HandshakeState,
    KeyPair,
    NoiseProtocol,
    Random,
)

#: The Noise protocol of the device link.
PROTOCOL_NAME = "Noise_IK_25519_ChaChaPoly_BLAKE2s"
#: Binds the handshake to this protocol and version; bump it with the link protocol.
PROLOGUE = b"ferry-link/1"
#: Default largest handshake frame, in bytes.
DEFAULT_MAX_HANDSHAKE = 1024
#: Default largest transport frame: the codec's largest message plus the AEAD tag.
DEFAULT_MAX_FRAME = DEFAULT_MAX_SIZE + TAGLEN

# Bytes a handshake message adds around its payload: IK message 1 is e, encrypted s and
# the encrypted payload; message 2 is e and the encrypted payload.
_HELLO_OVERHEAD = DHLEN + (DHLEN + TAGLEN) + TAGLEN
_WELCOME_OVERHEAD = DHLEN + TAGLEN

_PROTOCOL = NoiseProtocol.from_name(PROTOCOL_NAME)

T = TypeVar("T")


def generate_keypair(random: Random = os.urandom) -> tuple[bytes, bytes]:
    """Create a static key pair for a bridge or a server.

    Args:
        random: source of 32 random bytes; tests may pass a fixed one.

    Returns:
        ``(private, public)``, raw 32 bytes each.
    """
    private = random(DHLEN)
    return private, KeyPair.from_private(private).public


def public_key(private: bytes) -> bytes:
    """The raw public key of a raw 32-byte private key (e.g. for a pairing code).

    Raises:
        ValueError: ``private`` is not 32 bytes.
    """
    return KeyPair.from_private(private).public


# ------------------------------------------------------------ state machine
#
# Each side moves through four states. Any ProtocolError (remote misbehaviour, or a
# spent nonce counter) moves it to FAILED, and from FAILED every call raises
# SessionFailed (the original error as its cause): the driver must close the connection.
# A call that does not fit the current state is local misuse and raises RuntimeError
# without changing the state.
#
# Initiator (bridge):  START --start--> SENT_HELLO --receive_handshake--> ESTABLISHED
# Responder (server):  START --receive_hello--> HELLO_RECEIVED --accept--> ESTABLISHED
# Both, in ESTABLISHED: encrypt and decrypt keep the state.
#
#   side       state           call                 next state (on ProtocolError: FAILED)
#   initiator  START           start                SENT_HELLO
#   initiator  SENT_HELLO      receive_handshake    ESTABLISHED
#   responder  START           receive_hello        HELLO_RECEIVED
#   responder  HELLO_RECEIVED  accept               ESTABLISHED
#   both       ESTABLISHED     encrypt, decrypt     ESTABLISHED
#   both       FAILED          anything             FAILED (raises SessionFailed)


class LinkState(enum.Enum):
    """Where a link session is; see the table above."""

    START = "start"
    SENT_HELLO = "sent_hello"
    HELLO_RECEIVED = "hello_received"
    ESTABLISHED = "established"
    FAILED = "failed"


_TRANSPORT = {
    (LinkState.ESTABLISHED, "encrypt"): LinkState.ESTABLISHED,
    (LinkState.ESTABLISHED, "decrypt"): LinkState.ESTABLISHED,
}
_INITIATOR_TRANSITIONS = {
    (LinkState.START, "start"): LinkState.SENT_HELLO,
    (LinkState.SENT_HELLO, "receive_handshake"): LinkState.ESTABLISHED,
    **_TRANSPORT,
}
_RESPONDER_TRANSITIONS = {
    (LinkState.START, "receive_hello"): LinkState.HELLO_RECEIVED,
    (LinkState.HELLO_RECEIVED, "accept"): LinkState.ESTABLISHED,
    **_TRANSPORT,
}


class _LinkSession:
    """What both sides share: the transition table and the transport phase."""

    _transitions: ClassVar[dict[tuple[LinkState, str], LinkState]]

    def __init__(self, handshake: HandshakeState, max_handshake: int, max_frame: int) -> None:
        if max_handshake < _HELLO_OVERHEAD or max_frame <= TAGLEN:
            raise ValueError("frame limits too small for the link protocol")
        self.state = LinkState.START
        self.max_handshake = max_handshake
        self.max_frame = max_frame
        self._handshake = handshake
        self._transport: HandshakeResult | None = None
        self._failure: ProtocolError | None = None

    @property
    def handshake_hash(self) -> bytes:
        """The final handshake hash, identical on both sides (for channel binding).

        Raises:
            RuntimeError: the session is not established.
        """
        return self._established().handshake_hash

    def encrypt(self, plaintext: bytes) -> bytes:
        """Encrypt one message into one transport frame.

        Raises:
            RuntimeError: the session is not established (local misuse).
            ValueError: the frame would exceed ``max_frame``.
            SessionFailed: an earlier error made the session unusable.
            NonceExhausted: 2**64-1 frames sent; the session fails.
        """
        return self._step("encrypt", lambda: self._encrypt(plaintext))

    def decrypt(self, frame: bytes) -> bytes:
        """Decrypt one transport frame from the peer.

        Raises:
            RuntimeError: the session is not established (local misuse).
            MessageTooLarge: the frame exceeds ``max_frame``; the session fails.
            DecryptionFailed: tampered, replayed, reordered or truncated; the session fails.
            SessionFailed: an earlier error made the session unusable.
        """
        return self._step("decrypt", lambda: self._decrypt(frame))

    def _step(self, event: str, action: Callable[[], T]) -> T:
        if self._failure is not None:
            raise SessionFailed("link session failed earlier") from self._failure
        target = self._transitions.get((self.state, event))
        if target is None:
            raise RuntimeError(f"{event}() is not allowed in state {self.state.value}")
        try:
            result = action()
        except ProtocolError as exc:
            self._fail(exc)
            raise
        self.state = target
        return result

    def _fail(self, exc: ProtocolError) -> None:
        self._failure = exc
        self.state = LinkState.FAILED
        self._transport = None  # drop the keys: nothing may use them any more

    def _read_handshake(self, frame: bytes) -> bytes:
        # The size check comes first so an oversize frame costs no crypto at all.
        if len(frame) > self.max_handshake:
            raise MessageTooLarge(len(frame), self.max_handshake)
        payload = self._handshake.read_message(frame)
        self._capture_transport()
        return payload

    def _write_handshake(self, payload: bytes, overhead: int) -> bytes:
        if len(payload) + overhead > self.max_handshake:
            raise ValueError(f"handshake payload over {self.max_handshake - overhead} bytes")
        message = self._handshake.write_message(payload)
        self._capture_transport()
        return message

    def _capture_transport(self) -> None:
        self._transport = self._handshake.result

    def _established(self) -> HandshakeResult:
        if self._transport is None or self.state is not LinkState.ESTABLISHED:
            raise RuntimeError(f"link session is not established (state {self.state.value})")
        return self._transport

    def _encrypt(self, plaintext: bytes) -> bytes:
        if len(plaintext) + TAGLEN > self.max_frame:
            raise ValueError(f"plaintext over {self.max_frame - TAGLEN} bytes")
        return self._established().send.encrypt_with_ad(b"", plaintext)

    def _decrypt(self, frame: bytes) -> bytes:
        transport = self._established()
        if len(frame) > self.max_frame:
            raise MessageTooLarge(len(frame), self.max_frame)
        if len(frame) < TAGLEN:
            raise DecryptionFailed("transport frame shorter than its tag")
        return transport.receive.decrypt_with_ad(b"", frame)


class LinkInitiator(_LinkSession):
    """The bridge's side of the device link."""

    _transitions = _INITIATOR_TRANSITIONS

    def __init__(
        self,
        static_private: bytes,
        server_public: bytes,
        *,
        ephemeral: bytes | None = None,
        random: Random = os.urandom,
        max_handshake: int = DEFAULT_MAX_HANDSHAKE,
        max_frame: int = DEFAULT_MAX_FRAME,
    ) -> None:
        """Prepare a session; nothing is sent until :meth:`start`.

        Args:
            static_private: the bridge's raw 32-byte private key.
            server_public: the server's raw 32-byte public key, from the pairing code.
            ephemeral: fixed ephemeral private key, for tests only.
            random: source for the ephemeral key.
            max_handshake: largest handshake frame accepted or sent.
            max_frame: largest transport frame accepted or sent.

        Raises:
            ValueError: a key is not 32 bytes, or a limit is too small.
        """
        handshake = HandshakeState(
            _PROTOCOL,
            initiator=True,
            prologue=PROLOGUE,
            s=static_private,
            e=ephemeral,
            rs=server_public,
            random=random,
        )
        super().__init__(handshake, max_handshake, max_frame)

    def start(self, hello: bytes) -> bytes:
        """Build handshake message 1 carrying the bridge's hello.

        Args:
            hello: the encoded ``DeviceHello`` (opaque here).

        Returns:
            The frame to send.

        Raises:
            RuntimeError: already started.
            ValueError: the frame would exceed ``max_handshake``.
        """
        return self._step("start", lambda: self._write_handshake(hello, _HELLO_OVERHEAD))

    def receive_handshake(self, frame: bytes) -> bytes:
        """Read handshake message 2; the session is then established.

        Returns:
            The server's welcome payload.

        Raises:
            RuntimeError: :meth:`start` not called yet, or already established.
            MessageTooLarge: the frame exceeds ``max_handshake``.
            HandshakeFailed: not from the server we paired with, tampered or truncated.
            SessionFailed: an earlier error made the session unusable.
        """
        return self._step("receive_handshake", lambda: self._read_handshake(frame))


class LinkResponder(_LinkSession):
    """The server's side of the device link."""

    _transitions = _RESPONDER_TRANSITIONS

    def __init__(
        self,
        static_private: bytes,
        *,
        ephemeral: bytes | None = None,
        random: Random = os.urandom,
        max_handshake: int = DEFAULT_MAX_HANDSHAKE,
        max_frame: int = DEFAULT_MAX_FRAME,
    ) -> None:
        """Prepare a session for one incoming connection.

        Args:
            static_private: the server's raw 32-byte private key.
            ephemeral: fixed ephemeral private key, for tests only.
            random: source for the ephemeral key.
            max_handshake: largest handshake frame accepted or sent.
            max_frame: largest transport frame accepted or sent.

        Raises:
            ValueError: the key is not 32 bytes, or a limit is too small.
        """
        handshake = HandshakeState(
            _PROTOCOL,
            initiator=False,
            prologue=PROLOGUE,
            s=static_private,
            e=ephemeral,
            random=random,
        )
        super().__init__(handshake, max_handshake, max_frame)

    @property
    def remote_static(self) -> bytes | None:
        """The bridge's static public key, once message 1 has been read."""
        return self._handshake.remote_static

    def receive_hello(self, frame: bytes) -> tuple[bytes, bytes]:
        """Read handshake message 1.

        The caller must check the returned key against its device table and close the
        connection instead of calling :meth:`accept` when it is unknown or revoked.

        Returns:
            ``(bridge static public key, hello payload)``.

        Raises:
            RuntimeError: called twice.
            MessageTooLarge: the frame exceeds ``max_handshake`` (checked before any crypto).
            HandshakeFailed: not meant for this server, tampered, truncated or bad key.
            SessionFailed: an earlier error made the session unusable.
        """
        hello = self._step("receive_hello", lambda: self._read_handshake(frame))
        remote = self._handshake.remote_static
        assert remote is not None  # IK message 1 always carries it
        return remote, hello

    def accept(self, welcome: bytes) -> bytes:
        """Build handshake message 2 carrying the welcome; the session is then established.

        Args:
            welcome: the encoded ``Welcome`` (opaque here).

        Returns:
            The frame to send.

        Raises:
            RuntimeError: :meth:`receive_hello` has not succeeded.
            ValueError: the frame would exceed ``max_handshake``.
            SessionFailed: an earlier error made the session unusable.
        """
        return self._step("accept", lambda: self._write_handshake(welcome, _WELCOME_OVERHEAD))
