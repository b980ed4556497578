"""Passwords: the policy (length, common-password list) and argon2id hashing.

Policy (NIST SP 800-63B): 8 to 128 characters of any Unicode, no composition rules, not in
the list of common passwords shipped in ``common-passwords.txt`` (checked
case-insensitively). Passwords are NFKC-normalised before checking and hashing, so the same
password typed on two keyboards that encode it differently still matches.

Hashing: argon2id with the parameters of ``Config.password_params`` (production default:
argon2-cffi's RFC 9106 low-memory profile). A stored hash made with other parameters is
replaced at the next successful sign-in (:meth:`Passwords.needs_rehash`).

Off the event loop: one argon2id hash costs about a quarter of a second of CPU, so the
server hashes and verifies through :meth:`Passwords.hash_off_loop` and
:meth:`Passwords.verify_off_loop`, on a small thread pool (argon2-cffi releases the GIL
while it hashes). The pool takes a bounded number of waiting requests; beyond that a request
is refused at once with :class:`PasswordsBusy` rather than queueing behind minutes of work.
The synchronous methods remain for the command line and tests.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import threading
import unicodedata
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import ParamSpec, TypeVar

import argon2

_P = ParamSpec("_P")
_T = TypeVar("_T")

MIN_LENGTH = 8
MAX_LENGTH = 128
_COMMON_FILE = Path(__file__).with_name("common-passwords.txt")
#: How much lower than the event loop the hashing threads run (see ``_yield_to_the_loop``).
WORKER_NICENESS = 10


def normalise(password: str) -> str:
    return unicodedata.normalize("NFKC", password)


@functools.cache
def common_passwords() -> frozenset[str]:
    """The shipped list, lower-cased (read once)."""
    lines = _COMMON_FILE.read_text(encoding="utf-8").splitlines()
    return frozenset(line.strip().lower() for line in lines if line and not line.startswith("#"))


def password_problem(password: str) -> str | None:
    """Why ``password`` may not be used, or ``None`` when it is acceptable."""
    password = normalise(password)
    if not MIN_LENGTH <= len(password) <= MAX_LENGTH:
        return f"Choose a password of {MIN_LENGTH} to {MAX_LENGTH} characters."
    if password.lower() in common_passwords():
        return "This password is too common; choose another."
    return None


class PasswordsBusy(Exception):
    """Every password worker is busy and the waiting line is full: try again shortly."""


def default_workers() -> int:
    """Hashing threads: one per core but one, which the event loop keeps (at least one)."""
    return max(1, (os.cpu_count() or 1) - 1)


def _yield_to_the_loop() -> None:
    """Lower this worker thread's CPU priority (Linux: per thread; elsewhere: nothing).

    argon2id is memory-hard CPU work that releases the GIL; at a lower priority it takes
    the cores the event loop leaves, so a wave of sign-ins slows sign-ins, not message
    delivery. The loop thread keeps its priority.
    """
    with contextlib.suppress(AttributeError, OSError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), WORKER_NICENESS)


class Passwords:
    """argon2id hashing with configurable cost, on the loop's behalf in worker threads.

    ``workers``: threads hashing at once; ``waiting``: requests allowed to wait for one.
    """

    def __init__(
        self, params: argon2.Parameters, *, workers: int | None = None, waiting: int = 32
    ) -> None:
        if waiting < 0:
            raise ValueError("waiting must be >= 0")
        self._hasher = argon2.PasswordHasher.from_parameters(params)
        self._workers = workers if workers is not None else default_workers()
        if self._workers < 1:
            raise ValueError("workers must be >= 1")
        self._capacity = self._workers + waiting
        self._in_flight = 0
        self._pool: ThreadPoolExecutor | None = None
        # A real hash of a random password: verifying against it when an account does not
        # exist keeps sign-in timing the same whether or not the number has an account.
        self._dummy = self._hasher.hash("ferry-dummy-password-for-timing")

    def hash(self, password: str) -> str:
        return self._hasher.hash(normalise(password))

    def verify(self, stored_hash: str | None, password: str) -> bool:
        """Check ``password`` against ``stored_hash`` (``None``: no such account)."""
        try:
            ok = self._hasher.verify(stored_hash or self._dummy, normalise(password))
        except (argon2.exceptions.VerificationError, argon2.exceptions.InvalidHashError):
            return False
        return ok and stored_hash is not None

    def needs_rehash(self, stored_hash: str) -> bool:
        """True when the hash was made with other parameters than the configured ones."""
        return self._hasher.check_needs_rehash(stored_hash)

    def burn(self, password: str) -> None:
        """Spend the time of one hash without keeping it (equal timing on decoy paths)."""
        self._hasher.hash(normalise(password))

    @property
    def in_flight(self) -> int:
        """Hashes running or waiting for a worker now."""
        return self._in_flight

    async def hash_off_loop(self, password: str) -> str:
        """:meth:`hash` in a worker thread; :class:`PasswordsBusy` when saturated."""
        return await self._run(self.hash, password)

    async def verify_off_loop(self, stored_hash: str | None, password: str) -> bool:
        """:meth:`verify` in a worker thread; :class:`PasswordsBusy` when saturated."""
        return await self._run(self.verify, stored_hash, password)

    async def _run(self, fn: Callable[_P, _T], *args: _P.args, **kwargs: _P.kwargs) -> _T:
        # Counted on the loop thread only, so no lock is needed; the check comes before
        # any work so a refusal costs nothing.
        if self._in_flight >= self._capacity:
            raise PasswordsBusy()
        if self._pool is None:
            self._pool = ThreadPoolExecutor(
                self._workers, thread_name_prefix="argon2", initializer=_yield_to_the_loop
            )
        self._in_flight += 1
        try:
            return await asyncio.get_running_loop().run_in_executor(
                self._pool, functools.partial(fn, *args, **kwargs)
            )
        finally:
            self._in_flight -= 1

    def close(self) -> None:
        """Let the worker threads go once their running hashes end (never blocks)."""
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
