"""The centre's HTTP API for the CIS (FastAPI; its OpenAPI document at /openapi.json).

Every call but /v1/health carries `Authorization: Bearer <token>`; the token names a client of
the config, and a client submits, amends, cancels and reads only its own country's records.
Bodies are read with a cap as they stream in and parsed by the strict JSON reader of every
boundary (no duplicate keys, NaN or deep nesting); each record is checked by the e-manifest
contract on its own, so a bad record is refused whole, with its reasons, beside good ones.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from centre.config import ApiClient, token_sha256
from centre.feed import MAX_PAGE, read_feed
from centre.records import Outcome, RecordDesk, Result
from centre.risk_profiles.desk import DraftError, Issued, RiskProfileDesk, parse_draft
from edge.json_input import JsonInputError, parse_json
from edge.logs import log_event
from edge.manifest import ContractError, Manifest, parse_manifest
from edge.timeutil import utcnow

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 32 << 20  # 1,000 records of a few KB each, with room to spare


@dataclass(frozen=True)
class ApiSettings:
    country: str
    clients: Sequence[ApiClient]
    max_records: int = 1000


class RecordResult(BaseModel):
    issuer: str
    ref: str
    version: int
    outcome: str
    routed_to: list[str] = []
    withdrawn_from: list[str] = []
    reasons: list[str] = []
    unserved_offices: list[str] = []


class SubmitResponse(BaseModel):
    results: list[RecordResult]
    accepted: int
    refused: int


class RiskProfilesIssued(BaseModel):
    version: int
    profiles: int
    boxes: list[str]
    messages: int


class FeedResponse(BaseModel):
    events: list[dict[str, Any]]
    cursor: int


def create_api(
    desk: RecordDesk, settings: ApiSettings, *, enrolment: APIRouter | None = None
) -> FastAPI:
    """The API; with `enrolment` (centre.fleet.enrolment_api), the boxes' enrolment too."""
    app = FastAPI(
        title="carec-edge national centre",
        version="1",
        description="The CIS's side of the exchange: records in, the boxes' events out.",
    )
    hashes = [(client, bytes.fromhex(client.token_sha256)) for client in settings.clients]

    def authenticate(request: Request) -> ApiClient:
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise HTTPException(401, "send Authorization: Bearer <token>")
        digest = bytes.fromhex(token_sha256(token.strip()))
        for client, expected in hashes:
            if hmac.compare_digest(digest, expected):
                return client
        log_event(log, logging.WARNING, "api.unknown_token")
        raise HTTPException(401, "unknown token")

    app.state.authenticate = authenticate

    def own_country(client: ApiClient, issuer: str) -> None:
        if issuer[:2] != client.country:
            raise HTTPException(403, f"{client.name} submits and reads only {client.country}'s")

    @app.get("/v1/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/v1/records", response_model=SubmitResponse)
    async def submit(request: Request, client: Client) -> Any:
        """Submit or amend records: a JSON array of records of the e-manifest contract (or
        one record). A higher version of a stored record amends it."""
        items = _as_list(parse_json(await _bounded_body(request), "body"))
        if len(items) > settings.max_records:
            raise HTTPException(413, f"{len(items)} records; at most {settings.max_records}")
        results: list[Result | None] = []
        valid: list[Manifest] = []
        for index, item in enumerate(items):
            try:
                record = parse_manifest(item)
            except ContractError as error:
                results.append(_refused(item, index, error.reasons))
                continue
            if record.issuer[:2] != client.country:
                reason = f"issuer: {record.issuer} is not of {client.country}, this client's"
                results.append(_refused(item, index, [reason]))
                continue
            results.append(None)
            valid.append(record)
        stored = iter(await run_in_threadpool(desk.submit, valid, f"api:{client.name}"))
        done = [r if r is not None else next(stored) for r in results]
        refused = sum(r.outcome is Outcome.REFUSED for r in done)
        log_event(log, logging.INFO, "api.submit", client=client.name, records=len(done),
                  refused=refused)  # fmt: skip
        return SubmitResponse(
            results=[RecordResult.model_validate(r.to_dict()) for r in done],
            accepted=len(done) - refused,
            refused=refused,
        )

    routed = lambda: [n for nodes in desk.routing.offices.values() for n in nodes]  # noqa: E731
    risk = RiskProfileDesk(desk.engine, desk.outbox, settings.country, routed)

    @app.post("/v1/risk-profiles", response_model=RiskProfilesIssued)
    async def submit_risk_profiles(request: Request, client: Client) -> Any:
        """A new version of the country's risk profiles, `{"random": {"yellow": 0.05, "red":
        0.01}, "profiles": [...]}` (edge.risk_profiles.model): checked strictly, refused whole
        with its reasons (422), else signed and sent to every box of the country, where it
        replaces the set in force."""
        if client.country != settings.country:
            raise HTTPException(403, f"{client.name} is not of {settings.country}")
        try:
            draft = parse_draft(parse_json(await _bounded_body(request), "body"))
        except DraftError as error:
            return JSONResponse(status_code=422, content={"reasons": error.problems})

        def issue() -> Issued:
            with desk.engine.begin() as conn:
                return risk.issue(conn, draft, f"api:{client.name}", "api", utcnow())

        issued = await run_in_threadpool(issue)
        log_event(log, logging.INFO, "api.risk_profiles", client=client.name,
                  version=issued.rules.version, profiles=len(issued.rules.profiles),
                  boxes=len(issued.boxes))  # fmt: skip
        return RiskProfilesIssued(
            version=issued.rules.version, profiles=len(issued.rules.profiles),
            boxes=issued.boxes, messages=issued.messages,
        )  # fmt: skip

    @app.delete("/v1/records/{issuer}/{ref}", response_model=RecordResult)
    def cancel(issuer: str, ref: str, client: Client) -> Any:
        """Cancel a record: it is withdrawn from every box that holds it."""
        own_country(client, issuer)
        result = desk.cancel(issuer, ref, f"api:{client.name}")
        if result.outcome is Outcome.REFUSED:
            raise HTTPException(404, "; ".join(result.reasons))
        return RecordResult.model_validate(result.to_dict())

    @app.get("/v1/records/{issuer}/{ref}")
    def get_record(issuer: str, ref: str, client: Client) -> dict[str, Any]:
        """The record's latest version, its state and its trace (submitted, routed, ...)."""
        own_country(client, issuer)
        stored = desk.get(issuer, ref)
        if stored is None:
            raise HTTPException(404, "no such record")
        return {
            "state": stored.state,
            "record": stored.record.model_dump(mode="json", exclude_none=True),
            "history": desk.history(issuer, ref),
        }

    @app.get("/v1/events", response_model=FeedResponse)
    def events(
        client: Client,
        after: Annotated[int, Query(ge=0)] = 0,
        limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
        type: Annotated[list[str] | None, Query()] = None,
    ) -> Any:
        """The boxes' events (arrival, decision, exit_confirmation) after `after`, oldest
        first; keep `cursor` and pass it as `after` next time."""
        page = read_feed(desk.engine, after, limit, tuple(type or ()))
        return FeedResponse(events=page.events, cursor=page.cursor)

    if enrolment is not None:  # the boxes' enrolment: no bearer token, bounded instead
        app.include_router(enrolment)

    @app.exception_handler(JsonInputError)
    def bad_json(_request: Request, error: JsonInputError) -> JSONResponse:
        return JSONResponse({"detail": str(error)}, status_code=400)

    return app


def _client(request: Request) -> ApiClient:
    authenticate: Callable[[Request], ApiClient] = request.app.state.authenticate
    return authenticate(request)


# The calling client, from its bearer token (a dependency of every route but /v1/health).
Client = Annotated[ApiClient, Depends(_client)]


async def _bounded_body(request: Request) -> bytes:
    """The body, refused as soon as it passes MAX_BODY_BYTES (whatever Content-Length says)."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise HTTPException(413, f"body larger than {MAX_BODY_BYTES} bytes; send fewer records")
        chunks.append(chunk)
    return b"".join(chunks)


def _as_list(data: object) -> list[object]:
    if isinstance(data, list):
        return data
    if isinstance(data, dict):
        return [data]
    raise HTTPException(400, "body: expected a record or an array of records")


def _refused(item: object, index: int, reasons: list[str]) -> Result:
    issuer = ref = ""
    version = 0
    if isinstance(item, dict):
        issuer = str(item.get("issuer", ""))[:64]
        ref = str(item.get("ref", ""))[:35]
        version = item.get("version", 1) if isinstance(item.get("version", 1), int) else 0
    reasons = [f"records[{index}].{reason}" for reason in reasons]
    return Result(issuer, ref, version, Outcome.REFUSED, reasons=tuple(reasons))
