"""What the sync room tells the rest of the box about its queues, as plain data: the kiosk
shows it without reading sync's tables or importing sync (the wiring hands it a
`SyncStatusSource`, which `sync.status` implements)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class StuckMessage:
    """A message the broker refused and has not taken since."""

    id: str
    peer: str
    type: str
    destination: str
    created_at: dt.datetime
    refusals: int
    reason: str  # the broker's last reason code and name, e.g. "0x87 Not authorized"
    retry_at: dt.datetime | None  # when it goes again; None: it is on its way now


@dataclass(frozen=True)
class SyncSnapshot:
    waiting: int  # not yet taken by a broker (pending, in flight)
    unconfirmed: int  # taken by a broker, not yet acknowledged by the receiver
    refused: int  # refused by the broker, waiting for their next try
    oldest_waiting_at: dt.datetime | None
    quarantined: int  # received messages kept for review
    stuck: tuple[StuckMessage, ...] = ()  # the first of those refused, oldest first


class SyncStatusSource(Protocol):
    def snapshot(self) -> SyncSnapshot:
        """Now; blocking store work (call it where the store's work runs)."""
        ...
