"""The ``AT^`` commands a Huawei E173 answers when a host connects (gammu sends ``^CURC=0``
and ``^PORTSEL=1``; ModemManager's Huawei plugin ``^CURC``, ``^GETPORTMODE``,
``^SYSINFO``, ``^SYSCFG``, ``^CPIN``), mixed into
:class:`~device_bridge.emulator.modem.EmulatedModem` on profiles with ``huawei_commands``.
Any other ``^`` command answers ``COMMAND NOT SUPPORT``, as the firmware does.

=================  ====================================================================
command            answer
=================  ====================================================================
``^CURC=<0|1>``    periodic status URCs (``^RSSI``, ``^MODE`` …) off or on (on at boot)
``^PORTSEL=<0|1>`` which port carries URCs; remembered, nothing else changes
``^GETPORTMODE``   ``^GETPORTMODE: TYPE: WCDMA: huawei,MDM:0,DIAG:1,PCUI:2,CDROM:3,SD:4``
``^SYSINFO``       ``^SYSINFO:<srv>,<domain>,<roam>,<mode>,<sim>,,<submode>``
``^SYSCFG``        ``^SYSCFG:2,0,3FFFFFFF,1,2``: automatic mode, all bands, roaming on
``^CPIN?``         ``^CPIN: <code>,,<puk>,<pin>,<puk2>,<pin2>`` (retries left)
``^HWVER``         ``^HWVER:"CD1E173M"``
``^CARDLOCK?``     ``^CARDLOCK: 2,10,0``: not network-locked
=================  ====================================================================
"""

from __future__ import annotations

from .commands import Final, GeneralCommands, ints

__all__ = ["HuaweiCommands"]

_SYSCFG_TEST = (
    '^SYSCFG:(2,13,14,16),(0-3),((400380,"GSM900/GSM1800/WCDMA2100"),'
    '(3FFFFFFF,"All bands")),(0-2),(0-4)'
)


class HuaweiCommands(GeneralCommands):
    """Handlers named ``_hw_<command>`` for ``AT^<command>``."""

    curc: int
    portsel: int

    def _power_up_huawei(self) -> None:
        self.curc = 1
        self.portsel = 0

    def _switch(self, name: str, attribute: str, mode: str, args: str) -> list[str]:
        if mode == "read":
            return [f"^{name}: {getattr(self, attribute)}"]
        if mode == "test":
            return [f"^{name}: (0-1)"]
        values = ints(args)
        if mode != "set" or not values or values[0] not in (0, 1):
            raise Final("ERROR")
        setattr(self, attribute, values[0])
        return []

    def _hw_curc(self, mode: str, args: str) -> list[str]:
        return self._switch("CURC", "curc", mode, args)

    def _hw_portsel(self, mode: str, args: str) -> list[str]:
        return self._switch("PORTSEL", "portsel", mode, args)

    def _hw_getportmode(self, mode: str, args: str) -> list[str]:
        if mode != "exec":
            raise Final("ERROR")
        return ["^GETPORTMODE: TYPE: WCDMA: huawei,MDM:0,DIAG:1,PCUI:2,CDROM:3,SD:4"]

    def _hw_sysinfo(self, mode: str, args: str) -> list[str]:
        if mode != "exec":
            raise Final("ERROR")
        on = self.cfun == 1
        # service valid, CS+PS domain, not roaming, WCDMA, SIM valid, -, HSDPA
        fields = (2, 3, 0, 5, 1, "", 4) if on else (0, 0, 0, 0, 1, "", 0)
        return ["^SYSINFO:" + ",".join(map(str, fields))]

    def _hw_syscfg(self, mode: str, args: str) -> list[str]:
        if mode == "read":
            return ["^SYSCFG:2,0,3FFFFFFF,1,2"]
        if mode == "test":
            return [_SYSCFG_TEST]
        raise Final("ERROR")  # changing the radio mode is not emulated

    def _hw_cpin(self, mode: str, args: str) -> list[str]:
        if mode != "read":
            raise Final("ERROR")
        if self.sim_locked:
            return ["^CPIN: SIM PIN,3,10,3,10,3"]  # the code asked for, then retries left
        return ["^CPIN: READY,,10,3,10,3"]

    def _hw_hwver(self, mode: str, args: str) -> list[str]:
        return ['^HWVER:"CD1E173M"'] if mode == "exec" else []

    def _hw_cardlock(self, mode: str, args: str) -> list[str]:
        if mode != "read":
            raise Final("ERROR")
        return ["^CARDLOCK: 2,10,0"]
