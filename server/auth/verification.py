"""Phone-number verification: issuing codes, checking them, and auto-verification.

Rules: a 6-digit code (:mod:`server.auth.codes`), 10 minutes, single use, bound to the
purpose and number it was issued for, five wrong tries kill it; sends are throttled per
number (one a minute, five an hour) and per IP, and each send kills the previous code.

Sends tell the truth. :meth:`Verification.issue` waits for the gateway (at most
``SEND_TIMEOUT``) and returns a :class:`SendReport`: ``sent`` only once the gateway accepted
the message (what "accepted" means per gateway is in :mod:`server.sms_gateway`), otherwise
``failed`` with a stable reason (``sms_unavailable``: the way out is down or did not answer
in time; ``sms_refused``: the gateway refused this number or text). The last report per
account and purpose is kept in memory for the code's life, so a browser that signed up (whose
answer could not say, see ``api.accounts``) can ask how the send went (``GET /me``).

Auto-verification — why it proves ownership. A code for ``verify`` or ``change_phone``
is sent by SMS to the number being claimed. The mobile network delivers an SMS to a number
only to the SIM that holds that number. If the code then arrives at the server as an
inbound SMS uploaded over the authenticated device socket of a bridge paired with *this
same account*, that bridge's SIM received it, so the account controls the SIM of the
number: exactly what typing the code proves, with the bridge doing the typing. Another
account's bridge cannot submit it (codes are looked up only among the pending codes of the
account that owns the uploading device), a stranger cannot forge it (they do not know the
code, which exists only as a MAC on the server and in that one SMS), and a wrong code in an
SMS does not count as a try (so nobody can burn a user's tries by texting their bridge).
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Literal

from server.auth.codes import (
    AUTO_PURPOSES,
    CODE_TTL,
    code_mac,
    code_matches,
    code_message,
    is_code,
    new_code,
    webotp_codes,
)
from server.auth.throttle import Limiter, LoginThrottle, Throttle
from server.background import Background
from server.clock import Clock
from server.errors import RateLimited
from server.log import security_logger, sms_logger
from server.sms_gateway import GatewayError, GatewayRejected, SmsGateway
from server.storage.accounts import AccountExists, AccountStore
from server.storage.codes import CodeStore
from server.storage.lines import LineStore
from server.storage.security import SecurityEventStore
from server.storage.verify_sends import VerifySendLog

if TYPE_CHECKING:
    from server.nodes.limits import RedisLimits


@dataclass
class Throttles:
    """All rate limits of account security, one place."""

    login: Limiter  # failed sign-ins (and password re-checks): per account and per IP
    codes: Limiter  # wrong codes: per IP and per number
    send_gap: Limiter  # code or notice sends: one a minute per number
    sends: Limiter  # code or notice sends: per number and per IP per hour
    signup: Limiter  # sign-ups and reset requests per IP
    budget: Limiter  # every verification text of every node: one hourly budget

    @classmethod
    def build(
        cls, clock: Clock, shared: RedisLimits | None = None, *, sms_per_hour: int = 200
    ) -> Throttles:
        """The throttles; ``shared``: counted across the nodes too (several nodes);
        ``sms_per_hour``: the budget of verification texts (``FERRY_VERIFY_SMS_PER_HOUR``)."""

        def limiter(
            local: Throttle | LoginThrottle, name: str, message: str | None = None
        ) -> Limiter:
            return Limiter(local, name=name, clock=clock, shared=shared, message=message)

        return cls(
            login=limiter(
                LoginThrottle.build(clock),
                "login",
                "Too many sign-in attempts; try again later.",
            ),
            codes=limiter(Throttle(clock, limit=20, window=15 * 60), "codes"),
            send_gap=limiter(Throttle(clock, limit=1, window=60), "send-gap"),
            sends=limiter(Throttle(clock, limit=5, window=60 * 60), "sends"),
            signup=limiter(Throttle(clock, limit=20, window=60 * 60), "signup"),
            budget=limiter(
                Throttle(clock, limit=sms_per_hour, window=60 * 60),
                BUDGET_NAME,
                "Ferry has sent all the verification texts it may send this hour; try again later.",
            ),
        )


#: The name of the hourly budget of verification texts (in Redis, and its one key).
BUDGET_NAME, BUDGET_KEY = "verify-budget", "all"
#: How long a request waits for the gateway before it calls the send failed.
SEND_TIMEOUT = 15.0
#: Send reports kept (one per account and purpose); the oldest go first.
_MAX_REPORTS = 10_000

SendState = Literal["sending", "sent", "failed"]
SendFailure = Literal["sms_unavailable", "sms_refused"]


@dataclass(frozen=True)
class SendReport:
    """How the last code send of an account (for one purpose) went."""

    state: SendState
    at: datetime
    error: SendFailure | None = None

    @property
    def sent(self) -> bool:
        return self.state == "sent"


class Verification:
    def __init__(
        self,
        *,
        codes: CodeStore,
        accounts: AccountStore,
        events: SecurityEventStore,
        gateway: SmsGateway,
        background: Background,
        clock: Clock,
        key: bytes,
        host: str,
        throttles: Throttles,
        lines: LineStore | None = None,
        spent: VerifySendLog | None = None,
    ) -> None:
        self._codes = codes
        self._accounts = accounts
        self._events = events
        self.gateway = gateway
        self._background = background
        self._clock = clock
        self._key = key
        self.host = host
        self._throttles = throttles
        self._lines = lines
        self._spent = spent
        self._reports: OrderedDict[tuple[int, str], SendReport] = OrderedDict()
        #: Told (account id, seq) when a line was verified: browsers must refetch.
        self.on_line_verified: Callable[[int, int], None] = lambda account_id, seq: None

    # ----------------------------------------------------------------- sending

    async def check_send(self, phone: str, ip: str) -> None:
        """Raise RateLimited if no SMS may go to ``phone`` (or from ``ip``) now; else count one.

        Called on every path that could send, whether or not it then does, so a throttle
        never tells whether a number has an account. Each call also spends one text of
        the hourly budget of all nodes; once it is spent, the refusal (429) has the code
        ``sms_budget_spent`` and says so.
        """
        keys_gap, keys_hour = (f"phone:{phone}",), (f"phone:{phone}", f"ip:{ip}")
        await self._throttles.send_gap.check(*keys_gap)
        await self._throttles.sends.check(*keys_hour)
        try:
            await self._throttles.budget.check(BUDGET_KEY)
        except RateLimited as exc:
            exc.code = "sms_budget_spent"
            security_logger.warning("the hourly budget of verification texts is spent")
            raise
        await self._throttles.send_gap.hit(*keys_gap)
        await self._throttles.sends.hit(*keys_hour)
        await self._throttles.budget.hit(BUDGET_KEY)
        if self._spent is not None:  # what ``ferry admin signup status`` counts
            await self._spent.record(self._clock.now())

    async def issue(self, account_id: int, purpose: str, phone: str) -> SendReport:
        """Create a code (killing the previous one of this purpose) and send it; returns how
        the send went once the gateway answered (or ``SEND_TIMEOUT`` passed)."""
        code = new_code()
        mac = code_mac(self._key, purpose, phone, code)
        await self._codes.issue(account_id, purpose, phone, mac, self._clock.now())
        self._remember(account_id, purpose, SendReport("sending", self._clock.now()))
        error = await self._deliver(phone, code_message(purpose, code, self.host), "code")
        state: SendState = "failed" if error else "sent"
        report = SendReport(state, self._clock.now(), error)
        self._remember(account_id, purpose, report)
        return report

    def last_send(self, account_id: int, purpose: str) -> SendReport | None:
        """The report of the account's last code send for ``purpose``, while a code from
        it could still be alive; None when unknown (none, too old, or a restart since)."""
        report = self._reports.get((account_id, purpose))
        if report is None or self._clock.now() - report.at >= CODE_TTL:
            return None
        return report

    def _remember(self, account_id: int, purpose: str, report: SendReport) -> None:
        key = (account_id, purpose)
        self._reports.pop(key, None)
        self._reports[key] = report
        while len(self._reports) > _MAX_REPORTS:
            self._reports.popitem(last=False)

    def send(self, to: str, text: str, kind: str) -> None:
        """Send in the background: the request's timing does not depend on the gateway."""
        self._background.spawn(self._send(to, text, kind), name=f"sms-{kind}")

    async def _send(self, to: str, text: str, kind: str) -> None:
        await self._deliver(to, text, kind)

    async def _deliver(self, to: str, text: str, kind: str) -> SendFailure | None:
        """Hand one SMS to the gateway; None once it accepted it, else why it did not."""
        name = self.gateway.name
        try:
            async with asyncio.timeout(SEND_TIMEOUT):
                await self.gateway.send(to, text, kind)
        except GatewayRejected as exc:
            sms_logger.warning("%s SMS via %s refused: %s", kind, name, exc)
            return "sms_refused"
        except GatewayError as exc:
            sms_logger.warning("%s SMS via %s not sent: %s", kind, name, exc)
            return "sms_unavailable"
        except TimeoutError:
            sms_logger.warning("%s SMS via %s: no answer in %.0f s", kind, name, SEND_TIMEOUT)
            return "sms_unavailable"
        return None

    # ---------------------------------------------------------------- checking

    async def check(
        self, account_id: int | None, purpose: str, code: object, ip: str
    ) -> str | None:
        """Use the account's code for ``purpose``; returns the number it proves, or None.

        ``account_id`` None (no such account) takes the same path and counts as a miss.

        Raises:
            RateLimited: too many wrong codes from this IP or for this account.
        """
        keys = (f"ip:{ip}", f"acct:{account_id}")
        await self._throttles.codes.check(*keys)
        phone = None
        if account_id is not None:
            # A malformed code is a wrong try like any other.
            well_formed = is_code(code)
            phone = await self._codes.check(
                account_id,
                purpose,
                lambda p, stored: (
                    well_formed and code_matches(self._key, purpose, p, str(code), stored)
                ),
                self._clock.now(),
            )
        if phone is None:
            await self._throttles.codes.hit(*keys)
        return phone

    async def apply(self, account_id: int, purpose: str, phone: str) -> None:
        """What a correct ``verify``/``change_phone`` code proves, applied to the account.

        Raises:
            AccountExists: (change_phone) another verified account holds the number.
        """
        now = self._clock.now()
        if purpose == "verify":
            await self._accounts.set_verified(account_id, now)
            await self._events.record(account_id, "phone_verified", now)
        elif purpose == "change_phone":
            await self._accounts.set_phone(account_id, phone, now)
            await self._events.record(account_id, "phone_changed", now)
        elif purpose == "line" and self._lines is not None:
            seq = await self._lines.verify(account_id, phone, now)
            if seq is not None:
                await self._events.record(account_id, "line_verified", now)
                self.on_line_verified(account_id, seq)

    async def auto_verify(self, account_id: int, bodies: Iterable[str]) -> list[str]:
        """Inbound SMS bodies from the account's own bridge: submit codes found in them.

        Returns the purposes verified. A code that does not match counts as no try.
        """
        # WebOTP lines are whole lines, so one pass over the joined bodies finds them all.
        found = set(webotp_codes("\n".join(bodies), self.host))
        if not found:
            return []
        done = []
        for pending in await self._codes.pending(account_id, AUTO_PURPOSES, self._clock.now()):
            for code in found:
                if not code_matches(
                    self._key, pending.purpose, pending.phone, code, pending.code_hash
                ):
                    continue
                if await self._codes.consume(pending.id):
                    try:
                        await self.apply(account_id, pending.purpose, pending.phone)
                    except AccountExists:
                        continue
                    security_logger.info(
                        "account %d: %s proven by its bridge", account_id, pending.purpose
                    )
                    done.append(pending.purpose)
                break
        return done
