"""How an emulated modem behaves: vendor quirk profiles and injectable faults.

A :class:`Profile` is fixed per phone and reproduces habits of real firmware families;
:class:`Faults` can be changed at run time (control API ``POST /phones/{n}/faults``) to
make a modem misbehave the way worn hardware and bad links do.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

__all__ = ["PROFILES", "Faults", "Profile"]


@dataclass(frozen=True)
class Profile:
    """A firmware family's habits.

    Attributes:
        name: Profile key (``generic``, ``simcom``, ``quectel``, ``huawei``, ``wavecom``).
        manufacturer / model / revision: What ``AT+CGMI``/``CGMM``/``CGMR`` answer.
        echo: Echo default after power-up (V.250 says on).
        prompt: The SMS prompt after ``AT+CMGS=<n>``: ``<CR><LF>> `` as TS 27.005 §3.5.1
            says; some firmware sends ``> `` straight after the echoed command line.
        boot_urcs: Lines volunteered once after power-up, before the first answer.
        noise: Lines volunteered every ``noise_every`` commands (``^RSSI`` …).
        cnmi_modes / cnmi_mt / cnmi_bm / cnmi_ds / cnmi_bfr: ``AT+CNMI`` values offered by
            ``AT+CNMI=?`` and accepted; others are refused with ``+CMS ERROR: 303``.
        unsupported: Final result for unknown commands (``ERROR``, ``COMMAND NOT SUPPORT``).
        has_cnum: Whether ``AT+CNUM`` exists.
        empty_read_error: ``AT+CMGR`` on an empty slot answers ``+CMS ERROR: 321`` rather
            than a bare ``OK``.
        memories: Message memories offered by ``AT+CPMS=?``.
        charsets: Character sets ``AT+CSCS`` accepts (others: ``+CME ERROR: 4``).
        phonebook_empty_error: ``AT+CPBR`` over empty slots answers ``+CME ERROR: 22``
            (not found) rather than a bare ``OK``.
        phonebook_ucs2_only: ``+CPBR`` names are UCS2 hex and numbers plain digits,
            whatever ``AT+CSCS`` says.
        index_base: The first message slot's index (Huawei counts from 0).
        huawei_commands: Answers the ``AT^`` commands of Huawei firmware (``^CURC`` …).
        access_technology: TS 27.007 <AcT> reported by ``+CREG``/``+COPS`` (0 GSM,
            2 UTRAN, 7 E-UTRAN); None for 2G firmware that leaves the field out.
        lte: Whether EPS commands (``+CEREG``) exist.
        gcap: ``AT+GCAP`` capabilities.
        ws46: Wireless networks ``AT+WS46=?`` offers, the first is the current one.
        ccid: The ``AT+CCID`` answer with ``{}`` for the ICCID; empty when absent.
    """

    name: str
    manufacturer: str = "Ferry"
    model: str = "Virtual GSM Modem"
    revision: str = "1.0"
    echo: bool = True
    prompt: bytes = b"\r\n> "
    boot_urcs: tuple[str, ...] = ()
    noise: tuple[str, ...] = ()
    noise_every: int = 3
    cnmi_modes: frozenset[int] = frozenset({0, 1, 2})
    cnmi_mt: frozenset[int] = frozenset({0, 1, 2, 3})
    cnmi_bm: frozenset[int] = frozenset({0, 2})
    cnmi_ds: frozenset[int] = frozenset({0, 1, 2})
    cnmi_bfr: frozenset[int] = frozenset({0, 1})
    unsupported: str = "ERROR"
    has_cnum: bool = True
    empty_read_error: bool = False
    memories: tuple[str, ...] = ("SM", "ME")
    charsets: tuple[str, ...] = ("GSM", "IRA", "UCS2")
    phonebook_empty_error: bool = False
    phonebook_ucs2_only: bool = False
    index_base: int = 1
    huawei_commands: bool = False
    access_technology: int | None = 7
    lte: bool = True
    gcap: str = "+CGSM"
    ws46: tuple[int, ...] = (25, 12, 22, 28, 29, 30, 31)
    ccid: str = "+CCID: {}"


PROFILES: dict[str, Profile] = {
    profile.name: profile
    for profile in (
        Profile("generic"),
        Profile(
            "simcom",
            manufacturer="SIMCOM_Ltd",
            model="SIMCOM_SIM800L",
            revision="Revision:1418B04SIM800L24",
            boot_urcs=("RDY", "+CFUN: 1", "+CPIN: READY", "Call Ready", "SMS Ready"),
            access_technology=None,
            lte=False,
            ws46=(12,),
            ccid="{}",
        ),
        Profile(
            "quectel",
            manufacturer="Quectel",
            model="EC25",
            revision="EC25EFAR06A06M4G",
            boot_urcs=("RDY", "+CFUN: 1", "+CPIN: READY", "+QIND: SMS DONE", "+QIND: PB DONE"),
            empty_read_error=True,
            memories=("SM", "ME", "MT"),
            phonebook_empty_error=True,
        ),
        Profile(
            "huawei",
            manufacturer="huawei",
            model="E173",
            revision="11.126.85.00.209",
            echo=False,
            boot_urcs=("^BOOT:20142538,0,0,0,75",),
            noise=("^RSSI:17", "^MODE:5,4"),
            unsupported="COMMAND NOT SUPPORT",
            has_cnum=False,
            cnmi_ds=frozenset({0, 2}),
            phonebook_ucs2_only=True,
            index_base=0,
            huawei_commands=True,
            access_technology=2,
            lte=False,
            gcap="+CGSM,+DS,+ES",
            ws46=(25, 12, 22),
            ccid="",
        ),
        Profile(
            "wavecom",
            manufacturer="WAVECOM MODEM",
            model="MULTIBAND  900E  1800",
            revision="R7.46.0.201103281648",
            prompt=b"> ",
            boot_urcs=("+WIND: 3", "+WIND: 4"),
            cnmi_modes=frozenset({0, 1}),
            cnmi_bm=frozenset({0, 2, 3}),
            memories=("SM",),
            charsets=("GSM", "PCCP437", "HEX"),
            access_technology=None,
            lte=False,
            gcap="+CGSM,+FCLASS,+DS",
            ws46=(12,),
            ccid='+CCID: "{}"',
        ),
    )
}


@dataclass
class Faults:
    """Misbehaviour switched on at run time; all off by default.

    Attributes:
        hang: Read everything, answer nothing (a wedged firmware).
        drop_responses: Swallow the whole answer to the next N commands.
        garbage: Put line noise (``\\xff\\x00~``) before every answer.
        send_delay: Seconds before ``+CMGS`` is confirmed (a slow network).
        send_error: Answer every ``AT+CMGS`` with ``+CMS ERROR: <n>`` (e.g. 42 congestion).
        no_prompt: Never show the ``> `` prompt after ``AT+CMGS``.
        urc_mid_response: Hold URCs and put them inside the next command's answer.
        pin_locked: The SIM wants PIN ``1234`` (set through the control API).
        signal: ``+CSQ`` rssi, 0-31 or 99 for unknown.
        report_status: TP-ST of the delivery reports from now on (e.g. 70 = 0x46,
            permanent failure), instead of 0 (delivered); None for the default.
        report_trying: Precede every final report with one saying 0x21 (temporary
            error, SME busy, the centre is still trying).
        report_delay: Seconds before the final report comes (after any "trying" one).
        blank_status: Leave ``<stat>`` empty in ``+CMGR``/``+CMGL`` headers
            (``+CMGR: ,,92``), as some firmware does.
        pdu_quote: Put a stray ``"`` after the PDU hex of ``+CMGR``/``+CMGL``/``+CMT``.
    """

    hang: bool = False
    drop_responses: int = 0
    garbage: bool = False
    send_delay: float = 0.0
    send_error: int | None = None
    no_prompt: bool = False
    urc_mid_response: bool = False
    pin_locked: bool = False
    signal: int = 20
    report_status: int | None = None
    report_trying: bool = False
    report_delay: float = 0.0
    blank_status: bool = False
    pdu_quote: bool = False

    def update(self, changes: dict[str, object]) -> None:
        """Apply ``changes`` (from JSON), checking names and types.

        Raises:
            ValueError: An unknown fault or a value of the wrong type.
        """
        known = {f.name: f for f in fields(self)}
        for name, value in changes.items():
            if name not in known:
                raise ValueError(f"unknown fault {name!r}")
            setattr(self, name, _coerce(name, getattr(self, name), value))

    def as_dict(self) -> dict[str, object]:
        """The faults as plain JSON values."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


_OPTIONAL_INTS = {"send_error": range(0, 1000), "report_status": range(0, 256)}


def _coerce(name: str, current: object, value: object) -> object:
    if name in _OPTIONAL_INTS:
        if value is None or (
            isinstance(value, int) and not isinstance(value, bool) and value in _OPTIONAL_INTS[name]
        ):
            return value
    elif isinstance(current, bool):
        if isinstance(value, bool):
            return value
    elif isinstance(current, int):
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            return value
    elif (
        isinstance(current, float)
        and isinstance(value, int | float)
        and not isinstance(value, bool)
        and value >= 0
    ):
        return float(value)
    raise ValueError(f"bad value for fault {name!r}")
