"""AT commands of an emulated modem that are not about messages themselves:
identification, power, PIN, radio status, and SMS settings (``+CMGF``, ``+CPMS``,
``+CNMI`` …). Mixed into :class:`~device_bridge.emulator.modem.EmulatedModem`.

Every handler takes ``(mode, args)`` with mode ``exec`` (``AT+X``), ``read`` (``AT+X?``),
``test`` (``AT+X=?``) or ``set`` (``AT+X=args``) and returns the information lines, or
raises :class:`Final` to end the command line with an error.
"""

from __future__ import annotations

from collections.abc import Callable

from .profiles import Faults, Profile
from .storage import MessageStore

__all__ = ["SIM_PIN", "Final", "GeneralCommands", "int_range", "ints", "unquote"]

#: The PIN a locked emulated SIM accepts.
SIM_PIN = "1234"

_CME_TEXT = {
    3: "operation not allowed",
    4: "operation not supported",
    11: "SIM PIN required",
    16: "incorrect password",
    21: "invalid index",
    22: "not found",
    30: "no network service",
}


class Final(Exception):
    """Ends a command line with this final result instead of ``OK``."""

    def __init__(self, line: str) -> None:
        super().__init__(line)
        self.line = line


class GeneralCommands:
    """Handlers for identification, general and SMS-settings commands."""

    number: str
    profile: Profile
    faults: Faults
    memories: dict[str, MessageStore]
    storage: list[str]
    echo: bool
    cmee: int
    cmgf: int
    cnmi: tuple[int, int, int, int, int]
    cscs: str
    smsc: str
    cfun: int
    sim_unlocked: bool
    _schedule: Callable[[float, Callable[[], None]], object]

    def _power_up(self) -> None:
        raise NotImplementedError

    def _urc(self, lines: list[str]) -> None:
        raise NotImplementedError

    def _registration_changed(self) -> None:
        raise NotImplementedError

    @property
    def sim_locked(self) -> bool:
        """Whether the SIM still wants its PIN."""
        return self.faults.pin_locked and not self.sim_unlocked

    def _cme(self, code: int) -> Final:
        if self.cmee == 0:
            return Final("ERROR")
        if self.cmee == 2:
            return Final(f"+CME ERROR: {_CME_TEXT.get(code, 'unknown')}")
        return Final(f"+CME ERROR: {code}")

    # -- identification and general ---------------------------------------

    def _at_cgmi(self, mode: str, args: str) -> list[str]:
        return [] if mode == "test" else [self.profile.manufacturer]

    def _at_cgmm(self, mode: str, args: str) -> list[str]:
        return [] if mode == "test" else [self.profile.model]

    def _at_cgmr(self, mode: str, args: str) -> list[str]:
        return [] if mode == "test" else [self.profile.revision]

    def _at_cgsn(self, mode: str, args: str) -> list[str]:
        digits = "".join(c for c in self.number if c.isdigit())
        return [] if mode == "test" else ["35" + digits[-13:].rjust(13, "0")]

    def _at_cimi(self, mode: str, args: str) -> list[str]:
        digits = "".join(c for c in self.number if c.isdigit())
        return [] if mode == "test" else ["001010" + digits[-9:].rjust(9, "0")]

    def _at_cfun(self, mode: str, args: str) -> list[str]:
        if mode == "read":
            return [f"+CFUN: {self.cfun}"]
        if mode == "test":
            return ["+CFUN: (0,1,4),(0,1)"]
        values = ints(args)
        if not values or values[0] not in (0, 1, 4):
            raise self._cme(3)
        if len(values) > 1 and values[1] == 1:  # reset: boot URCs come again
            self._power_up()
        was, self.cfun = self.cfun, values[0]
        if (was == 1) != (self.cfun == 1):
            self._registration_changed()
        return []

    def _at_cmee(self, mode: str, args: str) -> list[str]:
        if mode == "read":
            return [f"+CMEE: {self.cmee}"]
        if mode == "test":
            return ["+CMEE: (0-2)"]
        values = ints(args) or [0]
        if values[0] not in (0, 1, 2):
            raise Final("ERROR")
        self.cmee = values[0]
        return []

    def _at_cpin(self, mode: str, args: str) -> list[str]:
        if mode == "read":
            return ["+CPIN: SIM PIN" if self.sim_locked else "+CPIN: READY"]
        if mode != "set":
            return []
        if not self.sim_locked:
            raise self._cme(3)
        if unquote(args.split(",")[0]) != SIM_PIN:
            raise self._cme(16)
        self.sim_unlocked = True
        self._schedule(0.0, lambda: self._urc(["+CPIN: READY", "SMS DONE"]))
        return []

    def _at_csq(self, mode: str, args: str) -> list[str]:
        return [] if mode == "test" else [f"+CSQ: {self.faults.signal},99"]

    def _at_cnum(self, mode: str, args: str) -> list[str]:
        return [] if mode == "test" else [f'+CNUM: "","{self.number}",145']

    # -- SMS settings --------------------------------------------------------

    def _at_cmgf(self, mode: str, args: str) -> list[str]:
        if mode == "read":
            return [f"+CMGF: {self.cmgf}"]
        if mode == "test":
            return ["+CMGF: (0,1)"]
        values = ints(args) or [0]
        if values[0] not in (0, 1):
            raise Final("ERROR")
        self.cmgf = values[0]
        return []

    def _at_csca(self, mode: str, args: str) -> list[str]:
        if mode == "read":
            return [f'+CSCA: "{self.smsc}",145']
        if mode == "set":
            self.smsc = unquote(args.split(",")[0])
        return []

    def _at_cscs(self, mode: str, args: str) -> list[str]:
        if mode == "read":
            return [f'+CSCS: "{self.cscs}"']
        if mode == "test":
            return ["+CSCS: (" + ",".join(f'"{c}"' for c in self.profile.charsets) + ")"]
        if mode != "set":
            return []
        charset = unquote(args.strip()).upper() or "GSM"
        if charset not in self.profile.charsets:
            raise self._cme(4)
        self.cscs = charset
        return []

    def _at_csmp(self, mode: str, args: str) -> list[str]:
        return ["+CSMP: 17,167,0,0"] if mode == "read" else []

    def _at_cpms(self, mode: str, args: str) -> list[str]:
        names = ",".join(f'"{m}"' for m in self.profile.memories)
        if mode == "test":
            return [f"+CPMS: ({names}),({names}),({names})"]
        if mode == "read":
            return ["+CPMS: " + ",".join(f'"{m}",{self._usage(m)}' for m in self.storage)]
        chosen = [unquote(a).upper() for a in args.split(",") if a.strip()]
        if not chosen or any(m not in self.memories for m in chosen):
            raise Final("+CMS ERROR: 302")
        self.storage = [*chosen, *self.storage[len(chosen) :]][:3]
        return ["+CPMS: " + ",".join(self._usage(m) for m in self.storage)]

    def _usage(self, memory: str) -> str:
        store = self.memories[memory]
        return f"{store.used},{store.capacity}"

    def _at_cnmi(self, mode: str, args: str) -> list[str]:
        if mode == "read":
            return ["+CNMI: " + ",".join(map(str, self.cnmi))]
        if mode == "test":
            return ["+CNMI: " + ",".join(int_range(values) for values in self._cnmi_offered())]
        values = [*ints(",".join(f.strip() or "0" for f in args.split(","))), 0, 0, 0, 0, 0][:5]
        if any(v not in offered for v, offered in zip(values, self._cnmi_offered(), strict=True)):
            raise Final("+CMS ERROR: 303")
        self.cnmi = tuple(values)  # type: ignore[assignment]
        return []

    def _cnmi_offered(self) -> tuple[frozenset[int], ...]:
        p = self.profile
        return p.cnmi_modes, p.cnmi_mt, p.cnmi_bm, p.cnmi_ds, p.cnmi_bfr


def ints(args: str) -> list[int]:
    values = []
    for field in args.split(","):
        field = unquote(field.strip())
        if not field.isdigit():
            break
        values.append(int(field))
    return values


def unquote(value: str) -> str:
    return value[1:-1] if len(value) >= 2 and value[0] == value[-1] == '"' else value


def int_range(values: frozenset[int] | set[int]) -> str:
    return "(" + ",".join(str(v) for v in sorted(values)) + ")"
