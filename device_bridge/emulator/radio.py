"""Network and SIM status commands of an emulated modem (3GPP TS 27.007), mixed into
:class:`~device_bridge.emulator.modem.EmulatedModem`: what gammu's ``networkinfo`` and
ModemManager's start-up probes ask.

=====================  ================================================================
command                answer
=====================  ================================================================
``+CREG``/``+CGREG``   ``<n>,<stat>[,"<lac>","<ci>"[,<AcT>]]``; ``<n>`` 2 adds the cell
``+CEREG``             the same for EPS (LTE profiles only)
``+CGATT``             attached (1) while the radio is on
``+COPS``              ``<mode>,<format>,"<oper>"[,<AcT>]``; format 0 long, 1 short,
                       2 numeric (``AT+COPS=3,<format>``)
``+GCAP`` ``+WS46``    capabilities, wireless networks (profile)
``+CIND`` ``+CMER``    indicators (battchg, signal, service, message, call, roam, smsfull)
                       and their ``+CIEV`` reporting
``+CGDCONT``           PDP contexts: define, read, delete
``+CLCK``              facility locks; ``"SC"`` is the SIM PIN (the ``pin_locked`` fault)
``+CRSM`` ``+CCID``    READ BINARY of EF ICCID, EF AD and EF SPN; the ICCID
``+CSMS``              message service 0 or 1 (1: ``+CMT`` wants ``+CNMA``)
=====================  ================================================================

The cell is the phone's own: LAC and cell id are derived from its number, so every phone
sits in a cell of its own and the answers stay the same from run to run. A 2G profile
(``access_technology`` None) sends 16-bit cell ids and leaves ``<AcT>`` out.
"""

from __future__ import annotations

from device_bridge.gsm import gsm7

from .commands import SIM_PIN, Final, GeneralCommands, ints, unquote

__all__ = ["OPERATOR", "RadioCommands", "iccid_of"]

#: The virtual network's operator: long name, short name, MCC+MNC (the test network).
OPERATOR = ("Ferry Mobile", "Ferry", "00101")
_INDICATORS = (
    ("battchg", "0-5"),
    ("signal", "0-5"),
    ("service", "0,1"),
    ("message", "0,1"),
    ("call", "0,1"),
    ("roam", "0,1"),
    ("smsfull", "0,1"),
)
_EF_ICCID, _EF_AD, _EF_SPN = 12258, 28589, 28486
_READ_BINARY = 176
_CONTEXTS = range(1, 17)


def iccid_of(number: str) -> str:
    """A 19-digit ICCID for the phone with ``number`` (issuer 89 001 01, Luhn checked)."""
    digits = "".join(c for c in number if c.isdigit())
    body = "8900101" + digits[-11:].rjust(11, "0")
    total = 0
    for position, char in enumerate(reversed(body)):
        value = int(char) * (2 if position % 2 == 0 else 1)
        total += value - 9 if value > 9 else value
    return body + str((10 - total % 10) % 10)


def _swapped_bcd(digits: str) -> str:
    """Digits as the SIM stores them: nibbles swapped, padded with F."""
    padded = digits + "F" * (len(digits) % 2)
    return "".join(padded[i + 1] + padded[i] for i in range(0, len(padded), 2))


class RadioCommands(GeneralCommands):
    """Handlers for registration, operator, indicators, contexts, locks and SIM files."""

    creg: int
    cgreg: int
    cereg: int
    cops_format: int
    registered: bool
    cmer: tuple[int, int]
    contexts: dict[int, tuple[str, str]]
    csms: int

    def _power_up_radio(self) -> None:
        self.creg = self.cgreg = self.cereg = 0
        self.cops_format = 0
        self.registered = True  # AT+COPS=2 deregisters until AT+COPS=0
        self.cmer = (0, 0)
        self.contexts = {1: ("IP", "internet")} if self.profile.lte else {}
        self.csms = 0

    # -- registration ----------------------------------------------------------

    @property
    def _stat(self) -> int:
        """TS 27.007 <stat>: 1 registered (home), 0 not registered and not searching."""
        return 1 if self.cfun == 1 and self.registered else 0

    def _cell(self) -> tuple[str, str]:
        digits = "".join(c for c in self.number if c.isdigit()).rjust(7, "0")
        lac = f"{0x1000 + int(digits[-3:]):04X}"
        cell = int(digits[-7:])
        return (
            lac,
            f"{cell & 0xFFFF:04X}"
            if self.profile.access_technology is None
            else f"{cell & 0xFFFFFFF:08X}",
        )

    def _registration(self, name: str, n: int, *, solicited: bool) -> str:
        """``+CREG: [<n>,]<stat>[,"<lac>","<ci>"[,<AcT>]]``: <n> only when read."""
        fields = [str(n)] if solicited else []
        fields.append(str(self._stat))
        if n == 2 and self._stat == 1:
            lac, cell = self._cell()
            fields += [f'"{lac}"', f'"{cell}"']
            if self.profile.access_technology is not None:
                fields.append(str(self.profile.access_technology))
        return f"{name}: " + ",".join(fields)

    def _registration_command(self, name: str, attribute: str, mode: str, args: str) -> list[str]:
        if mode == "read":
            return [self._registration(name, getattr(self, attribute), solicited=True)]
        if mode == "test":
            return [f"{name}: (0-2)"]
        values = ints(args) or [0]
        if values[0] not in (0, 1, 2):
            raise self._cme(3)
        setattr(self, attribute, values[0])
        return []

    def _at_creg(self, mode: str, args: str) -> list[str]:
        return self._registration_command("+CREG", "creg", mode, args)

    def _at_cgreg(self, mode: str, args: str) -> list[str]:
        return self._registration_command("+CGREG", "cgreg", mode, args)

    def _at_cereg(self, mode: str, args: str) -> list[str]:
        if not self.profile.lte:
            raise Final(self.profile.unsupported)
        return self._registration_command("+CEREG", "cereg", mode, args)

    def _registration_changed(self) -> None:
        """Announce the new state to every ``+CxREG`` that asked for it (``<n>`` > 0)."""
        names = [("+CREG", self.creg), ("+CGREG", self.cgreg)]
        if self.profile.lte:
            names.append(("+CEREG", self.cereg))
        lines = [self._registration(name, n, solicited=False) for name, n in names if n]
        if lines:
            self._urc(lines)
        self._indicate("service", self._stat)

    def _at_cgatt(self, mode: str, args: str) -> list[str]:
        if mode == "read":
            return [f"+CGATT: {self._stat}"]
        if mode == "test":
            return ["+CGATT: (0,1)"]
        if (ints(args) or [-1])[0] not in (0, 1):
            raise self._cme(3)
        return []

    # -- operator ----------------------------------------------------------------

    def _at_cops(self, mode: str, args: str) -> list[str]:
        act = self.profile.access_technology
        tail = "" if act is None else f",{act}"
        if mode == "read":
            if self._stat != 1:
                return ["+COPS: 0" if self.registered else "+COPS: 2"]
            mode_now = 0 if self.registered else 2
            return [f'+COPS: {mode_now},{self.cops_format},"{OPERATOR[self.cops_format]}"{tail}']
        if mode == "test":
            long, short, numeric = OPERATOR
            return [f'+COPS: (2,"{long}","{short}","{numeric}"{tail}),,(0-4),(0-2)']
        return self._cops_set(args)

    def _cops_set(self, args: str) -> list[str]:
        fields = [unquote(f.strip()) for f in args.split(",")] + ["", ""]
        mode, form = ints(fields[0]), ints(fields[1])
        if not mode or mode[0] not in range(5) or (fields[1] and (not form or form[0] > 2)):
            raise self._cme(3)
        if form:
            self.cops_format = form[0]
        if mode[0] == 1 and fields[2] not in OPERATOR:
            raise self._cme(32)  # network not allowed: no such operator here
        if mode[0] != 3:
            was, self.registered = self._stat, mode[0] != 2
            if self._stat != was:
                self._registration_changed()
        return []

    def _at_gcap(self, mode: str, args: str) -> list[str]:
        return [] if mode == "test" else [f"+GCAP: {self.profile.gcap}"]

    def _at_ws46(self, mode: str, args: str) -> list[str]:
        offered = self.profile.ws46
        if mode == "test":
            return ["+WS46: (" + ",".join(str(n) for n in sorted(offered)) + ")"]
        if mode == "read":
            return [f"+WS46: {offered[0]}"]
        if mode == "set" and (ints(args) or [-1])[0] not in offered:
            raise self._cme(4)
        return []

    # -- indicators ----------------------------------------------------------------

    def _indicator_values(self) -> list[int]:
        rssi = self.faults.signal
        bars = 0 if rssi == 99 else min(5, (rssi + 5) // 6)
        full = self.memories[self.storage[2]]
        return [
            5,
            bars if self._stat == 1 else 0,
            self._stat,
            0,
            0,
            0,
            int(full.used >= full.capacity),
        ]

    def _at_cind(self, mode: str, args: str) -> list[str]:
        if mode == "test":
            return ["+CIND: " + ",".join(f'("{n}",({r}))' for n, r in _INDICATORS)]
        if mode == "read":
            return ["+CIND: " + ",".join(map(str, self._indicator_values()))]
        raise self._cme(4)

    def _at_cmer(self, mode: str, args: str) -> list[str]:
        if mode == "test":
            return ["+CMER: (0-3),(0),(0),(0-2),(0,1)"]
        if mode == "read":
            return [f"+CMER: {self.cmer[0]},0,0,{self.cmer[1]},0"]
        values = [*ints(",".join(f or "0" for f in args.split(","))), 0, 0, 0, 0][:4]
        if values[0] not in range(4) or values[1:3] != [0, 0] or values[3] not in range(3):
            raise self._cme(3)
        self.cmer = (values[0], values[3])
        return []

    def _indicate(self, name: str, value: int) -> None:
        """``+CIEV: <ind>,<value>`` when ``AT+CMER`` asked for indicator events."""
        if self.cmer[0] and self.cmer[1]:
            index = next(i for i, (n, _) in enumerate(_INDICATORS, 1) if n == name)
            self._urc([f"+CIEV: {index},{value}"])

    # -- PDP contexts ----------------------------------------------------------------

    def _at_cgdcont(self, mode: str, args: str) -> list[str]:
        last = f"({_CONTEXTS.start}-{_CONTEXTS.stop - 1})"
        if mode == "test":
            kinds = ("IP", "IPV6", "IPV4V6") if self.profile.lte else ("IP",)
            return [f'+CGDCONT: {last},"{kind}",,,(0-2),(0-4)' for kind in kinds]
        if mode == "read":
            return [
                f'+CGDCONT: {cid},"{kind}","{apn}","0.0.0.0",0,0'
                for cid, (kind, apn) in sorted(self.contexts.items())
            ]
        fields = [unquote(f.strip()) for f in args.split(",")]
        if not fields[0].isdigit() or int(fields[0]) not in _CONTEXTS:
            raise self._cme(3)
        cid = int(fields[0])
        if len(fields) == 1:
            self.contexts.pop(cid, None)
            return []
        kind = fields[1].upper() or "IP"
        if kind not in ("IP", "IPV6", "IPV4V6") or (kind != "IP" and not self.profile.lte):
            raise self._cme(4)
        self.contexts[cid] = (kind, fields[2] if len(fields) > 2 else "")
        return []

    # -- locks and SIM files ---------------------------------------------------------

    def _at_clck(self, mode: str, args: str) -> list[str]:
        if mode == "test":
            return ['+CLCK: ("SC","AO","OI","OX","AI","IR","AB","AG","AC","FD","PN")']
        fields = [unquote(f.strip()) for f in args.split(",")] + ["", ""]
        facility, action, password = fields[0].upper(), fields[1], fields[2]
        if mode != "set" or action not in ("0", "1", "2"):
            raise self._cme(3)
        if facility != "SC":
            if action == "2":
                return ["+CLCK: 0"]
            raise self._cme(4)
        if action == "2":
            return [f"+CLCK: {int(self.faults.pin_locked)}"]
        if self.sim_locked:
            raise self._cme(11)
        if password != SIM_PIN:
            raise self._cme(16)
        self.faults.pin_locked = action == "1"
        return []

    def _at_crsm(self, mode: str, args: str) -> list[str]:
        if mode != "set":
            return []
        values = ints(args)
        if len(values) < 2:
            raise self._cme(3)
        if values[0] != _READ_BINARY:
            return ["+CRSM: 109,0"]  # instruction not supported
        data = self._sim_file(values[1])
        if data is None:
            return ["+CRSM: 106,130"]  # file not found
        return [f'+CRSM: 144,0,"{data}"']

    def _sim_file(self, file_id: int) -> str | None:
        if file_id == _EF_ICCID:
            return _swapped_bcd(iccid_of(self.number)).ljust(20, "F")
        if file_id == _EF_AD:
            return "00000002"  # normal operation, MNC of two digits
        if file_id == _EF_SPN:
            name = gsm7.to_septets(OPERATOR[0]).hex().upper()
            return ("01" + name).ljust(34, "F")  # display condition, name, padding
        return None

    def _at_ccid(self, mode: str, args: str) -> list[str]:
        if not self.profile.ccid:
            raise Final(self.profile.unsupported)
        return [] if mode == "test" else [self.profile.ccid.format(iccid_of(self.number))]

    def _at_csms(self, mode: str, args: str) -> list[str]:
        if mode == "test":
            return ["+CSMS: (0,1)"]
        if mode == "read":
            return [f"+CSMS: {self.csms},1,1,1"]
        service = (ints(args) or [-1])[0]
        if service not in (0, 1):
            raise Final("+CMS ERROR: 303")
        self.csms = service
        return ["+CSMS: 1,1,1"]
