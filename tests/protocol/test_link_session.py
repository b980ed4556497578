"""Device-link session: handshake, transport, and death after any remote misbehaviour."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocol.errors import (
    DecryptionFailed,
    HandshakeFailed,
    MessageTooLarge,
    ProtocolError,
    SessionFailed,
)
from protocol.link import (
    DEFAULT_MAX_FRAME,
    LinkInitiator,
    LinkResponder,
    LinkState,
    generate_keypair,
    public_key,
)


def _fixed(byte: int) -> Callable[[int], bytes]:
    return lambda n: bytes([byte]) * n


BRIDGE_PRIVATE, BRIDGE_PUBLIC = generate_keypair(_fixed(1))
SERVER_PRIVATE, SERVER_PUBLIC = generate_keypair(_fixed(2))
ROGUE_PRIVATE, ROGUE_PUBLIC = generate_keypair(_fixed(3))


def _established() -> tuple[LinkInitiator, LinkResponder]:
    bridge = LinkInitiator(BRIDGE_PRIVATE, SERVER_PUBLIC)
    server = LinkResponder(SERVER_PRIVATE)
    device_key, hello = server.receive_hello(bridge.start(b'{"t":"hello"}'))
    assert (device_key, hello) == (BRIDGE_PUBLIC, b'{"t":"hello"}')
    assert bridge.receive_handshake(server.accept(b'{"t":"welcome"}')) == b'{"t":"welcome"}'
    return bridge, server


def _assert_dead(session: LinkInitiator | LinkResponder, cause: type[ProtocolError]) -> None:
    assert session.state is LinkState.FAILED
    for call in (lambda: session.encrypt(b"x"), lambda: session.decrypt(bytes(32))):
        with pytest.raises(SessionFailed) as info:
            call()
        assert isinstance(info.value.__cause__, cause)


def test_generate_keypair_uses_the_injected_source() -> None:
    assert len(BRIDGE_PRIVATE) == len(BRIDGE_PUBLIC) == 32
    assert public_key(BRIDGE_PRIVATE) == BRIDGE_PUBLIC
    assert generate_keypair(_fixed(1)) == (BRIDGE_PRIVATE, BRIDGE_PUBLIC)


def test_happy_path_many_frames_both_ways() -> None:
    bridge, server = _established()
    assert bridge.state is server.state is LinkState.ESTABLISHED
    assert bridge.handshake_hash == server.handshake_hash
    for i in range(200):
        assert server.decrypt(bridge.encrypt(b"up %d" % i)) == b"up %d" % i
        assert bridge.decrypt(server.encrypt(b"down %d" % i)) == b"down %d" % i


def test_frames_are_encrypted_and_never_repeat() -> None:
    bridge, _ = _established()
    frames = {bridge.encrypt(b"same") for _ in range(10)}
    assert len(frames) == 10
    assert all(b"same" not in f for f in frames)


def test_ephemeral_keys_can_be_fixed_for_reproducible_frames() -> None:
    def run() -> bytes:
        bridge = LinkInitiator(BRIDGE_PRIVATE, SERVER_PUBLIC, ephemeral=bytes([9]) * 32)
        return bridge.start(b"hello")

    assert run() == run()


def test_man_in_the_middle_cannot_read_hello() -> None:
    bridge = LinkInitiator(BRIDGE_PRIVATE, SERVER_PUBLIC)
    rogue = LinkResponder(ROGUE_PRIVATE)
    with pytest.raises(HandshakeFailed):
        rogue.receive_hello(bridge.start(b"hello"))
    _assert_dead(rogue, HandshakeFailed)


def test_bridge_rejects_answer_from_another_server() -> None:
    # The rogue runs its own handshake with the bridge's (public) key and forwards its
    # message 2; without the real server's private key it cannot match the key schedule.
    bridge = LinkInitiator(BRIDGE_PRIVATE, SERVER_PUBLIC)
    bridge.start(b"hello")
    decoy = LinkInitiator(BRIDGE_PRIVATE, ROGUE_PUBLIC)
    rogue = LinkResponder(ROGUE_PRIVATE)
    rogue.receive_hello(decoy.start(b"hello"))
    with pytest.raises(HandshakeFailed):
        bridge.receive_handshake(rogue.accept(b"welcome"))
    _assert_dead(bridge, HandshakeFailed)


def test_server_sees_an_unknown_bridge_key_before_answering() -> None:
    stranger_private, stranger_public = generate_keypair(_fixed(4))
    server = LinkResponder(SERVER_PRIVATE)
    assert server.remote_static is None
    key, _ = server.receive_hello(LinkInitiator(stranger_private, SERVER_PUBLIC).start(b"hi"))
    assert key == server.remote_static == stranger_public != BRIDGE_PUBLIC
    assert server.state is LinkState.HELLO_RECEIVED


def test_tampered_frame_kills_the_session() -> None:
    bridge, server = _established()
    frame = bytearray(bridge.encrypt(b"payload"))
    frame[3] ^= 0x10
    with pytest.raises(DecryptionFailed):
        server.decrypt(bytes(frame))
    _assert_dead(server, DecryptionFailed)


def test_replayed_frame_kills_the_session() -> None:
    bridge, server = _established()
    frame = bridge.encrypt(b"once")
    assert server.decrypt(frame) == b"once"
    with pytest.raises(DecryptionFailed):
        server.decrypt(frame)
    _assert_dead(server, DecryptionFailed)


def test_reordered_frames_kill_the_session() -> None:
    bridge, server = _established()
    first, second = bridge.encrypt(b"1"), bridge.encrypt(b"2")
    with pytest.raises(DecryptionFailed):
        server.decrypt(second)
    _assert_dead(server, DecryptionFailed)
    with pytest.raises(SessionFailed):
        server.decrypt(first)  # even the right frame is refused now


@pytest.mark.parametrize("keep", [0, 1, 15, 16, 20])
def test_truncated_frame_kills_the_session(keep: int) -> None:
    bridge, server = _established()
    with pytest.raises(DecryptionFailed):
        server.decrypt(bridge.encrypt(b"twenty bytes of text")[:keep])
    _assert_dead(server, DecryptionFailed)


def test_frame_from_the_wrong_direction_is_rejected() -> None:
    bridge, _ = _established()
    with pytest.raises(DecryptionFailed):
        bridge.decrypt(bridge.encrypt(b"reflected"))


def test_oversize_handshake_rejected_before_crypto() -> None:
    server = LinkResponder(SERVER_PRIVATE, max_handshake=200)
    with pytest.raises(MessageTooLarge):
        server.receive_hello(bytes(201))
    _assert_dead(server, MessageTooLarge)


def test_oversize_transport_frame_rejected() -> None:
    bridge, server = _established()
    with pytest.raises(MessageTooLarge):
        server.decrypt(bytes(DEFAULT_MAX_FRAME + 1))
    _assert_dead(server, MessageTooLarge)
    with pytest.raises(ValueError):
        bridge.encrypt(bytes(DEFAULT_MAX_FRAME))


def test_largest_frame_round_trips() -> None:
    bridge, server = _established()
    frame = bridge.encrypt(bytes(DEFAULT_MAX_FRAME - 16))
    assert len(frame) == DEFAULT_MAX_FRAME
    assert server.decrypt(frame) == bytes(DEFAULT_MAX_FRAME - 16)


def test_hello_too_large_for_the_limit_is_local_misuse() -> None:
    bridge = LinkInitiator(BRIDGE_PRIVATE, SERVER_PUBLIC)
    with pytest.raises(ValueError):
        bridge.start(bytes(1024))
    assert bridge.state is LinkState.START
    assert len(bridge.start(bytes(1024 - 96))) == 1024


def test_misuse_before_the_handshake_is_not_a_protocol_error() -> None:
    bridge = LinkInitiator(BRIDGE_PRIVATE, SERVER_PUBLIC)
    server = LinkResponder(SERVER_PRIVATE)
    for call in (
        lambda: bridge.encrypt(b"x"),
        lambda: bridge.decrypt(bytes(32)),
        lambda: bridge.receive_handshake(bytes(48)),
        lambda: server.accept(b"welcome"),
        lambda: server.encrypt(b"x"),
        lambda: bridge.handshake_hash,
    ):
        with pytest.raises(RuntimeError):
            call()
    assert bridge.state is server.state is LinkState.START
    bridge.start(b"hello")
    with pytest.raises(RuntimeError):
        bridge.start(b"again")


def test_bad_key_lengths_rejected() -> None:
    with pytest.raises(ValueError):
        LinkInitiator(bytes(31), SERVER_PUBLIC)
    with pytest.raises(ValueError):
        LinkInitiator(BRIDGE_PRIVATE, bytes(33))


@settings(max_examples=50, deadline=None)
@given(
    hello=st.binary(max_size=900),
    welcome=st.binary(max_size=900),
    frames=st.lists(st.tuples(st.booleans(), st.binary(max_size=2048)), max_size=20),
)
def test_round_trip_of_arbitrary_payloads(
    hello: bytes, welcome: bytes, frames: list[tuple[bool, bytes]]
) -> None:
    bridge = LinkInitiator(BRIDGE_PRIVATE, SERVER_PUBLIC)
    server = LinkResponder(SERVER_PRIVATE)
    assert server.receive_hello(bridge.start(hello)) == (BRIDGE_PUBLIC, hello)
    assert bridge.receive_handshake(server.accept(welcome)) == welcome
    for upward, payload in frames:
        sender, receiver = (bridge, server) if upward else (server, bridge)
        frame = sender.encrypt(payload)
        assert len(frame) == len(payload) + 16
        assert receiver.decrypt(frame) == payload
