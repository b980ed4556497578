"""Sealing at rest: nonces drawn in bulk stay unique, also across a fork."""

from __future__ import annotations

import os

from server.storage.sealed import _NONCE, BodyCipher, _nonces, new_wrapped_key

MASTER = bytes(range(32))


def test_every_seal_has_a_fresh_nonce_across_pool_refills() -> None:
    cipher = BodyCipher(MASTER, 7, new_wrapped_key(MASTER, 7))
    blobs = [cipher.seal("same text") for _ in range(2000)]  # several 4 KiB refills
    nonces = {b[:_NONCE] for b in blobs}
    assert len(nonces) == len(blobs)
    assert all(cipher.open(b) == "same text" for b in blobs[::97])


def test_a_forked_child_never_reuses_the_parents_pool() -> None:
    _nonces.take()  # the pool is filled
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report its next nonce and leave at once
        os.write(write, _nonces.take())
        os._exit(0)
    os.close(write)
    child = os.read(read, _NONCE)
    os.close(read)
    os.waitpid(pid, 0)
    assert child != _nonces.take()
    assert len(child) == _NONCE


def test_sealing_a_batch_opens_like_one_at_a_time_with_fresh_nonces() -> None:
    cipher = BodyCipher(MASTER, 3, new_wrapped_key(MASTER, 3))
    texts = ["a", "", "ünïcode ✓", "a"]
    sealed = cipher.seal_many(texts)
    assert [cipher.open(b) for b in sealed] == texts
    assert len({b[:_NONCE] for b in sealed}) == len(texts)
    assert sealed[0] != sealed[3]  # same text, different nonce
