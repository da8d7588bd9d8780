"""What a `manifest_withdrawal` from the national centre does to this box: the record leaves
the e-manifest cache, so no arriving truck is matched to a record the CIS cancelled or routed
to another post.

The centre sends a withdrawal on the same ordered stream as the record's versions
(`<centre>/<box>/manifest`), so the inbox applies it after every version it withdraws.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from sqlalchemy import Connection

from edge.logs import log_event
from edge.manifest_cache import ManifestCache
from sync.envelope import Envelope
from sync.inbox_batch import Effects
from sync.messages import ManifestWithdrawalMessage

log = logging.getLogger(__name__)


def withdrawal_effects(cache: ManifestCache) -> Effects:
    """The applier of `manifest_withdrawal`: a run of withdrawals in one cache call, inside the
    inbox's transaction."""

    def withdraw(conn: Connection, envelopes: Sequence[Envelope]) -> None:
        messages = [_withdrawal(e) for e in envelopes]
        cache.withdraw(conn, [(m.issuer, m.ref, m.version) for m in messages])
        # Logged before the inbox commits: a batch rolled back for another message's sake is
        # applied again a message at a time, and its withdrawals logged again.
        for message in messages:
            log_event(
                log, logging.INFO, "manifest.withdrawn", issuer=message.issuer, ref=message.ref,
                version=message.version, reason=message.reason,
            )  # fmt: skip

    return Effects(withdraw)


def _withdrawal(envelope: Envelope) -> ManifestWithdrawalMessage:
    payload = envelope.payload
    assert isinstance(payload, ManifestWithdrawalMessage)  # the envelope's type guarantees it
    return payload
