"""Message memories of an emulated modem (``SM`` on the SIM, ``ME`` in the phone)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["MessageStore", "Slot"]

#: Slots per memory: a typical SIM holds 30 SMS; phone memory more.
CAPACITY = {"SM": 30, "ME": 100, "MT": 130}


@dataclass
class Slot:
    """One stored PDU: TS 27.005 status (0 unread … 3 sent), hex (with SMSC), TPDU length."""

    status: int
    pdu: str
    length: int


class MessageStore:
    """Numbered slots from ``base`` (1 on most firmware, 0 on Huawei's); a full store
    refuses new messages."""

    def __init__(self, capacity: int, base: int = 1) -> None:
        self.capacity = capacity
        self.base = base
        self._slots: dict[int, Slot] = {}

    @property
    def used(self) -> int:
        """Slots in use."""
        return len(self._slots)

    def add(self, slot: Slot) -> int | None:
        """Store ``slot`` in the lowest free index; None when full."""
        for index in range(self.base, self.base + self.capacity):
            if index not in self._slots:
                self._slots[index] = slot
                return index
        return None

    def get(self, index: int) -> Slot | None:
        """The slot at ``index``, or None when empty."""
        return self._slots.get(index)

    def delete(self, index: int) -> None:
        """Empty slot ``index`` (no error when already empty)."""
        self._slots.pop(index, None)

    def valid(self, index: int) -> bool:
        """Whether ``index`` names a slot of this memory at all."""
        return self.base <= index < self.base + self.capacity

    def items(self) -> list[tuple[int, Slot]]:
        """All used slots in index order."""
        return sorted(self._slots.items())
