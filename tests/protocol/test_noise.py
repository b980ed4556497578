"""Noise framework: the cacophony vectors byte for byte, then failure modes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from protocol.errors import DecryptionFailed, HandshakeFailed, MessageTooLarge, NonceExhausted
from protocol.noise import (
    CIPHERS,
    MAX_NONCE,
    CipherState,
    HandshakeState,
    KeyPair,
    NoiseProtocol,
)

VECTORS = (
    Path(__file__).resolve().parents[2].parent
    / "shared"
    / "vectors"
    / "noise"
    / "cacophony-subset.json"
)

IK = "Noise_IK_25519_ChaChaPoly_BLAKE2s"


def _vector_params() -> list[Any]:
    if not VECTORS.exists():
        reason = f"Noise test vectors not found at {VECTORS} (shared/ not checked out?)"
        return [pytest.param(None, marks=pytest.mark.skip(reason=reason), id="no-vectors")]
    vectors = json.loads(VECTORS.read_text())["vectors"]
    return [pytest.param(v, id=v["protocol_name"]) for v in vectors]


def _key(vector: dict[str, str], name: str) -> bytes | None:
    return bytes.fromhex(vector[name]) if name in vector else None


def _sides(vector: dict[str, str]) -> tuple[HandshakeState, HandshakeState]:
    name = vector["protocol_name"]
    initiator = HandshakeState(
        name,
        initiator=True,
        prologue=bytes.fromhex(vector["init_prologue"]),
        s=_key(vector, "init_static"),
        e=_key(vector, "init_ephemeral"),
        rs=_key(vector, "init_remote_static"),
    )
    responder = HandshakeState(
        name,
        initiator=False,
        prologue=bytes.fromhex(vector["resp_prologue"]),
        s=_key(vector, "resp_static"),
        e=_key(vector, "resp_ephemeral"),
        rs=_key(vector, "resp_remote_static"),
    )
    return initiator, responder


def _exchange(writer: HandshakeState, reader: HandshakeState, payload: bytes) -> bytes:
    # Handshake messages until the writer is done, then transport messages; cacophony's
    # messages alternate initiator, responder, initiator, ... throughout.
    if writer.result is None:
        ciphertext = writer.write_message(payload)
        assert reader.read_message(ciphertext) == payload
        return ciphertext
    assert reader.result is not None
    ciphertext = writer.result.send.encrypt_with_ad(b"", payload)
    assert reader.result.receive.decrypt_with_ad(b"", ciphertext) == payload
    return ciphertext


@pytest.mark.parametrize("vector", _vector_params())
def test_cacophony_vector(vector: dict[str, Any]) -> None:
    initiator, responder = _sides(vector)
    for index, message in enumerate(vector["messages"]):
        writer, reader = (initiator, responder) if index % 2 == 0 else (responder, initiator)
        ciphertext = _exchange(writer, reader, bytes.fromhex(message["payload"]))
        assert ciphertext.hex() == message["ciphertext"], f"message {index}"
    assert initiator.result is not None and responder.result is not None
    assert initiator.result.handshake_hash.hex() == vector["handshake_hash"]
    assert responder.result.handshake_hash.hex() == vector["handshake_hash"]


def test_vectors_cover_every_supported_pattern() -> None:
    if not VECTORS.exists():
        pytest.skip(f"Noise test vectors not found at {VECTORS}")
    names = {v["protocol_name"] for v in json.loads(VECTORS.read_text())["vectors"]}
    assert {NoiseProtocol.from_name(n).name.split("_")[1] for n in names} == {
        "IK",
        "XX",
        "NK",
        "KK",
    }


# ------------------------------------------------------------ failure modes


def _ik_pair(
    server_public: bytes | None = None,
) -> tuple[HandshakeState, HandshakeState, KeyPair]:
    client, server = KeyPair.from_private(bytes([1]) * 32), KeyPair.from_private(bytes([2]) * 32)
    initiator = HandshakeState(
        IK, initiator=True, s=bytes([1]) * 32, rs=server_public or server.public
    )
    responder = HandshakeState(IK, initiator=False, s=bytes([2]) * 32)
    return initiator, responder, client


def test_ik_handshake_reports_remote_static_and_matching_keys() -> None:
    initiator, responder, client = _ik_pair()
    assert responder.read_message(initiator.write_message(b"hello")) == b"hello"
    assert responder.remote_static == client.public
    assert initiator.read_message(responder.write_message(b"welcome")) == b"welcome"
    assert initiator.result is not None and responder.result is not None
    frame = initiator.result.send.encrypt_with_ad(b"", b"ping")
    assert responder.result.receive.decrypt_with_ad(b"", frame) == b"ping"
    assert initiator.result.handshake_hash == responder.result.handshake_hash


def test_wrong_responder_static_key_fails_ik() -> None:
    other = KeyPair.from_private(bytes([3]) * 32)
    initiator, responder, _ = _ik_pair(server_public=other.public)
    with pytest.raises(HandshakeFailed):
        responder.read_message(initiator.write_message(b"hello"))


@pytest.mark.parametrize("position", [0, 40, 90, -1])
def test_tampered_handshake_message_fails(position: int) -> None:
    initiator, responder, _ = _ik_pair()
    message = bytearray(initiator.write_message(b"hello"))
    message[position] ^= 0x01
    with pytest.raises(HandshakeFailed):
        responder.read_message(bytes(message))


def test_truncated_handshake_message_fails() -> None:
    initiator, responder, _ = _ik_pair()
    with pytest.raises(HandshakeFailed):
        responder.read_message(initiator.write_message(b"")[:40])


def test_low_order_ephemeral_key_fails() -> None:
    initiator, responder, _ = _ik_pair()
    message = bytes(32) + initiator.write_message(b"hello")[32:]
    with pytest.raises(HandshakeFailed):
        responder.read_message(message)


def test_prologue_mismatch_fails() -> None:
    server = KeyPair.from_private(bytes([2]) * 32)
    initiator = HandshakeState(
        IK, initiator=True, s=bytes([1]) * 32, rs=server.public, prologue=b"a"
    )
    responder = HandshakeState(IK, initiator=False, s=bytes([2]) * 32, prologue=b"b")
    with pytest.raises(HandshakeFailed):
        responder.read_message(initiator.write_message(b"hello"))


def test_handshake_state_is_spent_after_an_error() -> None:
    initiator, responder, _ = _ik_pair()
    message = initiator.write_message(b"hello")
    with pytest.raises(HandshakeFailed):
        responder.read_message(message[:-1] + bytes([message[-1] ^ 1]))
    with pytest.raises(RuntimeError):
        responder.read_message(message)


def test_oversize_handshake_message_rejected() -> None:
    _, responder, _ = _ik_pair()
    with pytest.raises(MessageTooLarge):
        responder.read_message(bytes(65536))


def test_out_of_turn_calls_are_local_misuse() -> None:
    initiator, responder, _ = _ik_pair()
    with pytest.raises(RuntimeError):
        responder.write_message(b"")
    with pytest.raises(RuntimeError):
        initiator.read_message(b"")


def test_missing_keys_and_bad_names_rejected() -> None:
    with pytest.raises(ValueError, match="rs"):
        HandshakeState(IK, initiator=True, s=bytes(32))
    with pytest.raises(ValueError, match="static key s"):
        HandshakeState(IK, initiator=False)
    with pytest.raises(ValueError):
        HandshakeState("Noise_IK_448_ChaChaPoly_BLAKE2s", initiator=True)
    with pytest.raises(ValueError):
        HandshakeState("Noise_NNpsk0_25519_ChaChaPoly_BLAKE2s", initiator=True)


def test_ephemeral_comes_from_the_injected_random_source() -> None:
    calls: list[int] = []

    def fixed(n: int) -> bytes:
        calls.append(n)
        return bytes([7]) * n

    server = KeyPair.from_private(bytes([2]) * 32)
    state = HandshakeState(IK, initiator=True, s=bytes([1]) * 32, rs=server.public, random=fixed)
    message = state.write_message(b"")
    assert calls == [32]
    assert message[:32] == KeyPair.from_private(bytes([7]) * 32).public


# ------------------------------------------------------------ CipherState


@pytest.mark.parametrize("cipher", sorted(CIPHERS))
def test_tampered_transport_message_fails(cipher: str) -> None:
    sender, receiver = (
        CipherState(CIPHERS[cipher], bytes(32)),
        CipherState(CIPHERS[cipher], bytes(32)),
    )
    ciphertext = bytearray(sender.encrypt_with_ad(b"ad", b"payload"))
    ciphertext[0] ^= 0x80
    with pytest.raises(DecryptionFailed):
        receiver.decrypt_with_ad(b"ad", bytes(ciphertext))
    assert receiver.n == 0  # a failed decryption does not consume the nonce


def test_wrong_nonce_fails() -> None:
    sender, receiver = (
        CipherState(CIPHERS["ChaChaPoly"], bytes(32)),
        CipherState(CIPHERS["ChaChaPoly"], bytes(32)),
    )
    sender.encrypt_with_ad(b"", b"first")
    with pytest.raises(DecryptionFailed):
        receiver.decrypt_with_ad(b"", sender.encrypt_with_ad(b"", b"second"))


def test_nonce_exhaustion_guard() -> None:
    cipher = CipherState(CIPHERS["ChaChaPoly"], bytes(32))
    cipher.set_nonce(MAX_NONCE - 1)
    cipher.encrypt_with_ad(b"", b"last one")  # nonce 2**64-2 is the last usable one
    assert cipher.n == MAX_NONCE
    with pytest.raises(NonceExhausted):
        cipher.encrypt_with_ad(b"", b"one too many")
    with pytest.raises(NonceExhausted):
        cipher.decrypt_with_ad(b"", bytes(16))


def test_keyless_cipher_state_passes_through() -> None:
    cipher = CipherState(CIPHERS["AESGCM"])
    assert not cipher.has_key()
    assert cipher.encrypt_with_ad(b"ad", b"plain") == b"plain"


def test_rekey_changes_key_in_step_on_both_sides() -> None:
    sender, receiver = (
        CipherState(CIPHERS["AESGCM"], bytes(32)),
        CipherState(CIPHERS["AESGCM"], bytes(32)),
    )
    sender.rekey()
    frame = sender.encrypt_with_ad(b"", b"after rekey")
    with pytest.raises(DecryptionFailed):
        CipherState(CIPHERS["AESGCM"], bytes(32)).decrypt_with_ad(b"", frame)
    receiver.rekey()
    assert receiver.decrypt_with_ad(b"", frame) == b"after rekey"
