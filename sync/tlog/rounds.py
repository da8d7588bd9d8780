"""The log's upkeep on a running node (the box's service, the centre): integrate what was
appended, sign a checkpoint when one is due and show it to the witnesses, purge past retention.

A checkpoint is due every `checkpoint_every_s` while entries arrive, and at every sync: each
time a link to a peer comes up (and when a bundle is written), whatever the time since the last.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading

from edge.config import TransparencyConfig
from edge.logs import log_event
from edge.timeutil import utcnow
from sync.outbox import Outbox
from sync.tlog.store import StoredCheckpoint, TransparencyLog
from sync.tlog.witness import publish_checkpoint

log = logging.getLogger(__name__)

INTEGRATE_EVERY_S = 2.0  # how long an appended entry waits for its leaf index at most, idle
PURGE_EVERY = dt.timedelta(hours=6)


class LogRounds:
    """What the node's periodic job and its links call; thread-safe (one round at a time)."""

    def __init__(self, tlog: TransparencyLog, outbox: Outbox, config: TransparencyConfig) -> None:
        self.log = tlog
        self.outbox = outbox
        self.config = config
        self.every = dt.timedelta(seconds=config.checkpoint_every_s)
        self._sync_pending = threading.Event()  # a link came up: checkpoint at the next round
        self._lock = threading.Lock()
        self._purged_at: dt.datetime | None = None

    def synced(self) -> None:
        """A sync happened (a link came up, a bundle was written): the next round checkpoints."""
        self._sync_pending.set()

    def round(self, now: dt.datetime | None = None) -> StoredCheckpoint | None:
        """Integrate; checkpoint and publish if due; purge now and then. The checkpoint made,
        if one was."""
        now = now or utcnow()
        with self._lock:
            forced = self._sync_pending.is_set()
            self._sync_pending.clear()
            self.log.integrate_all()
            made = None
            if forced or self.log.checkpoint_due(now, self.every):
                before = self.log.latest_checkpoint()
                made = publish_checkpoint(self.log, self.outbox, self.config.witnesses, now=now)
                if made is None and forced:  # nothing logged yet: the sync's checkpoint waits
                    self._sync_pending.set()
                if made is not None and (before is None or made.size != before.size):
                    log_event(
                        log, logging.INFO, "tlog.checkpoint", size=made.size,
                        witnesses=len(self.config.witnesses), forced=forced,
                    )  # fmt: skip
            if self._purged_at is None or now - self._purged_at >= PURGE_EVERY:
                self._purged_at = now
                deleted = self.log.purge(now - dt.timedelta(days=self.config.retention_days))
                if any(deleted.values()):
                    counts = " ".join(f"{table}={n}" for table, n in deleted.items())
                    log_event(log, logging.INFO, "tlog.purged", deleted=counts)
            return made
