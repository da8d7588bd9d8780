"""The enrolment endpoints on the centre's API (`provisioning.fleet.enrolment_protocol`):

    POST /fleet/v1/enrolment          200 enrolled | 202 pending | 403 refused | 4xx why not
    POST /fleet/v1/enrolment/status   the same answers, to the holder of the CSR's key

A box has no bearer token, so these calls are bounded instead: a small body, so many requests
a minute from one address and for one serial (429 with Retry-After beyond), and a bounded
number of boxes waiting (`Enrolments`, 503 beyond).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from fastapi import APIRouter, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ValidationError

from centre.fleet.enrolment import EnrolmentError, Enrolments, EnrolmentState, RequestRefusedError
from edge.json_input import JsonInputError, parse_json
from provisioning.fleet.enrolment_protocol import EnrolmentRequest, StatusRequest

MAX_BODY_BYTES = 16 * 1024
MAX_TRACKED = 10_000  # addresses and serials counted at once

STATUS_OF = {"enrolled": 200, "pending": 202, "refused": 403, "revoked": 403}


class RateLimiter:
    """At most `per_minute` requests per key in each minute; keys counted are bounded."""

    def __init__(self, per_minute: int, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_minute = per_minute
        self.clock = clock
        self._counts: dict[str, tuple[int, int]] = {}  # key -> (minute, count)
        self._lock = threading.Lock()

    def allow(self, key: str) -> bool:
        minute = int(self.clock() // 60)
        with self._lock:
            seen, count = self._counts.get(key, (minute, 0))
            if seen != minute:
                count = 0
            if count >= self.per_minute:
                return False
            if key not in self._counts and len(self._counts) >= MAX_TRACKED:
                self._counts = {k: v for k, v in self._counts.items() if v[0] == minute}
                if len(self._counts) >= MAX_TRACKED:
                    return False  # that many keys this minute: a flood, refuse the new ones
            self._counts[key] = (minute, count + 1)
            return True


@dataclass(frozen=True)
class Limits:
    per_address_per_minute: int = 120
    per_serial_per_minute: int = 20


def enrolment_router(enrolments: Enrolments, limits: Limits = Limits()) -> APIRouter:
    router = APIRouter(prefix="/fleet/v1", tags=["fleet enrolment"])
    by_address = RateLimiter(limits.per_address_per_minute)
    by_serial = RateLimiter(limits.per_serial_per_minute)

    def admit(request: Request, serial: str) -> None:
        address = request.client.host if request.client else "unknown"
        if not by_address.allow(f"a:{address}") or not by_serial.allow(f"s:{serial}"):
            raise HTTPException(
                429, "too many enrolment requests; ask again in a minute",
                headers={"Retry-After": "60"},
            )  # fmt: skip

    @router.post("/enrolment")
    async def enrol(request: Request) -> JSONResponse:
        """A box asks to join with its serial and CSR, or renews with a proof by its current
        certificate's key."""
        body = await _read(request, EnrolmentRequest)
        admit(request, body.serial)
        answer = await _call(enrolments.request, body.serial, body.csr, body.proof)
        return _respond(answer)

    @router.post("/enrolment/status")
    async def status(request: Request) -> JSONResponse:
        """What came of a box's request, to the holder of its CSR's key."""
        body = await _read(request, StatusRequest)
        admit(request, body.serial)
        answer = await _call(enrolments.status, body.serial, body.proof)
        return _respond(answer)

    return router


_M = TypeVar("_M", bound=BaseModel)


async def _read(request: Request, model: type[_M]) -> _M:
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise HTTPException(413, f"body larger than {MAX_BODY_BYTES} bytes")
        chunks.append(chunk)
    try:
        data = parse_json(b"".join(chunks), "body")
        return model.model_validate(data)
    except JsonInputError as error:
        raise HTTPException(400, str(error)) from None
    except ValidationError as error:
        reasons = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in error.errors()
        )
        raise HTTPException(400, reasons[:1000]) from None


async def _call(function: Callable[..., EnrolmentState], *args: object) -> EnrolmentState:
    try:
        return await run_in_threadpool(function, *args)
    except RequestRefusedError as refused:
        headers = {"Retry-After": "300"} if refused.status == 503 else None
        raise HTTPException(refused.status, refused.reason, headers=headers) from None
    except EnrolmentError as error:  # the CA refuses (it expired): the operator must act
        raise HTTPException(503, str(error)) from None


def _respond(answer: EnrolmentState) -> JSONResponse:
    headers = {}
    if answer.retry_after_s is not None:
        headers["Retry-After"] = str(answer.retry_after_s)
    return JSONResponse(
        answer.model_dump(mode="json", exclude_none=True),
        status_code=STATUS_OF[answer.state],
        headers=headers,
    )
