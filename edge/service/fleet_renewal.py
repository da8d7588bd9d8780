"""The box renews its own certificate: every `[fleet] renew_check_hours` it asks the centre's
enrolment API (`[fleet] centre_url`) for a new one once the current one ends within
`renew_within_days`, or for the next key's when a key rotation waits (the `rotate_key`
command), proving itself with its current key. A new certificate installed, the service
restarts in its process (`run_service`) so that its links and envelopes use it.

A centre out of reach is asked again at the next check; the certificate in place stays valid
meanwhile (and the health report shows its end to the centre, which alerts 30 days before)."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

import httpx

from edge.config import Config
from edge.logs import error_first_line, log_event
from provisioning.fleet.enrolment import (
    BoxEnrolment,
    BoxPaths,
    EnrolmentFailedError,
    NotEnrolledError,
    hardware_serial,
)
from provisioning.identity.csr import NODE_CERT
from provisioning.identity.errors import IdentityError

if TYPE_CHECKING:
    from edge.service import EdgeService

log = logging.getLogger(__name__)


def renew_once(config: Config) -> str | None:
    """Ask for what is due: "rotation" or "renewal" when a new certificate was installed, None
    when nothing was due (or the box is not enrolled). Raises EnrolmentFailedError (the centre
    out of reach or its answer not one), NotEnrolledError (refused, revoked), IdentityError."""
    fleet = config.fleet
    paths = BoxPaths.of(config.sync.identity_dir, config.sync.trust_store)
    if not fleet.centre_url or not (paths.identity_dir / NODE_CERT).exists():
        return None
    verify: str | bool = fleet.centre_ca_file or True
    with httpx.Client(base_url=fleet.centre_url, verify=verify, timeout=30) as client:
        box = BoxEnrolment(client, config.node.id, fleet.serial or hardware_serial(), paths)
        if box.complete_rotation() is not None:
            return "rotation"
        if box.renew_if_due(fleet.renew_within_days) is not None:
            return "renewal"
    return None


async def renew_when_due(service: EdgeService) -> None:
    """The service's task: check, renew, restart on a new certificate; idle without a centre."""
    fleet = service.config.fleet
    if not fleet.centre_url:
        await asyncio.Event().wait()  # no renewal here: idle until cancelled
        return
    while True:
        try:
            done = await asyncio.to_thread(renew_once, service.config)
        except NotEnrolledError as refused:  # the state only: the reason is an operator's text
            log_event(log, logging.ERROR, "fleet.renewal_refused", state=refused.answer.state)
        except (EnrolmentFailedError, IdentityError, OSError) as error:
            log_event(log, logging.WARNING, "fleet.renewal_failed",
                      error=error_first_line(error))  # fmt: skip
        else:
            if done is not None:
                log_event(log, logging.INFO, "fleet.certificate_renewed", by=done)
                service.restart(f"certificate ({done})")
                await asyncio.Event().wait()  # stopping: idle until cancelled
                return
        await asyncio.sleep(fleet.renew_check_hours * 3600)
