"""Hostile and clumsy input at the kiosk's boundary: a body is refused unread without a session,
and beyond the cap as it streams in (memory bounded whatever its size); JSON the strict reader
refuses is refused; a 422 names the field, never echoes what came; ids beyond 64 bits are
invalid, not a 500."""

from __future__ import annotations

import asyncio
import json
import tracemalloc
from dataclasses import dataclass, field

import pytest
from starlette.types import Message

from tests.kiosk.conftest import Kiosk
from ui_kiosk.body_guard import MAX_BODY_BYTES

MIB = 1024 * 1024
HUGE = 200 * MIB


@dataclass
class StreamedBody:
    """A request body of `total` bytes offered in 1 MiB chunks, counting what the app took."""

    total: int
    taken: int = 0
    chunk: bytes = b"x" * MIB

    async def receive(self) -> Message:
        if self.taken * MIB >= self.total:
            return {"type": "http.disconnect"}
        self.taken += 1
        return {
            "type": "http.request",
            "body": self.chunk,
            "more_body": self.taken * MIB < self.total,
        }


@dataclass
class Answer:
    status: int = 0
    body: bytes = b""
    messages: list[Message] = field(default_factory=list)

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
        elif message["type"] == "http.response.body":
            self.body += message.get("body", b"")


def post_streamed(
    kiosk: Kiosk, path: str, body: StreamedBody, *, headers: dict[str, str] | None = None
) -> Answer:
    """POST `body` to the kiosk app over ASGI itself, as uvicorn hands a request in."""
    cookie = kiosk.client.cookies.get("carec_kiosk_session")
    raw = {"host": "127.0.0.1", "content-type": "application/json", **(headers or {})}
    if cookie:
        raw["cookie"] = f"carec_kiosk_session={cookie}"
    scope = {
        "type": "http", "asgi": {"version": "3.0", "spec_version": "2.3"}, "http_version": "1.1",
        "method": "POST", "scheme": "http", "path": path, "raw_path": path.encode(),
        "query_string": b"", "root_path": "", "server": ("127.0.0.1", 8080),
        "client": ("127.0.0.1", 50000),
        "headers": [(k.encode(), v.encode()) for k, v in raw.items()],
    }  # fmt: skip
    answer = Answer()
    asyncio.run(kiosk.client.app(scope, body.receive, answer.send))  # type: ignore[arg-type]
    return answer


def test_a_200_mb_body_without_a_session_is_refused_before_a_byte_is_read(kiosk: Kiosk) -> None:
    arrival_id = kiosk.arrive()
    body = StreamedBody(HUGE)
    answer = post_streamed(kiosk, f"/api/arrivals/{arrival_id}/decision", body)
    assert answer.status == 401
    assert json.loads(answer.body)["error"] == "not_logged_in"
    assert body.taken == 0


def test_a_200_mb_body_is_refused_at_the_cap_and_never_read_whole(kiosk: Kiosk) -> None:
    arrival_id = kiosk.arrive()
    kiosk.login("ivan")
    body = StreamedBody(HUGE)
    tracemalloc.start()
    try:
        answer = post_streamed(kiosk, f"/api/arrivals/{arrival_id}/decision", body)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert answer.status == 413
    assert json.loads(answer.body)["error"] == "too_large"
    assert body.taken * MIB <= MAX_BODY_BYTES + MIB, f"read {body.taken} MiB of 200"
    assert peak < 8 * MIB, f"peak {peak / MIB:.1f} MiB for a 200 MiB body"
    assert kiosk.backend.decisions.store.for_arrival(arrival_id) == []


def test_a_declared_length_beyond_the_cap_is_refused_unread(kiosk: Kiosk) -> None:
    arrival_id = kiosk.arrive()
    kiosk.login("ivan")
    body = StreamedBody(HUGE)
    headers = {"content-length": str(HUGE)}
    answer = post_streamed(kiosk, f"/api/arrivals/{arrival_id}/decision", body, headers=headers)
    assert answer.status == 413
    assert body.taken == 0


def test_a_large_form_post_is_refused_with_413(kiosk: Kiosk) -> None:
    arrival_id = kiosk.arrive()
    csrf = kiosk.login("ivan")
    response = kiosk.client.post(
        f"/arrivals/{arrival_id}/decide",
        data={"kind": "release", "reason": "DOCUMENTS_IN_ORDER", "csrf_token": csrf,
              "note": "N" * (MAX_BODY_BYTES + 1)},
    )  # fmt: skip
    assert response.status_code == 413
    assert kiosk.backend.decisions.store.for_arrival(arrival_id) == []


@pytest.mark.parametrize(
    ("raw", "why"),
    [
        (b'{"kind": "release", "kind": "refuse", "reason": "DOCUMENTS_IN_ORDER"}', "duplicate"),
        (b'{"kind": "release", "reason": "DOCUMENTS_IN_ORDER", "note": NaN}', "NaN"),
        (b"[" * 5000 + b"]" * 5000, "nested"),
        (b'{"kind": "release", "reason": "DOCUMENTS_IN_ORDER", "note": "\xff"}', "UTF-8"),
    ],
)
def test_json_the_strict_reader_refuses_is_refused_and_named(
    kiosk: Kiosk, raw: bytes, why: str
) -> None:
    arrival_id = kiosk.arrive()
    csrf = kiosk.login("ivan")
    response = kiosk.client.post(
        f"/api/arrivals/{arrival_id}/decision",
        content=raw,
        headers={"X-CSRF-Token": csrf, "Content-Type": "application/json"},
    )
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert why in detail
    assert f"/api/arrivals/{arrival_id}/decision: the body" in detail
    assert kiosk.backend.decisions.store.for_arrival(arrival_id) == []


@pytest.mark.parametrize(
    "content_type",
    ["Application/JSON; charset=utf-8", "application/merge-patch+json", "APPLICATION/json"],
)
def test_every_type_fastapi_parses_as_json_gets_the_strict_reader(
    kiosk: Kiosk, content_type: str
) -> None:
    """FastAPI parses any case of application/json and any application/*+json: so does the
    guard. The last `kind` would win (a release) if the duplicate got through."""
    arrival_id = kiosk.arrive()
    csrf = kiosk.login("ivan")
    response = kiosk.client.post(
        f"/api/arrivals/{arrival_id}/decision",
        content=b'{"kind": "refuse", "kind": "release", "reason": "DOCUMENTS_IN_ORDER"}',
        headers={"X-CSRF-Token": csrf, "Content-Type": content_type},
    )
    assert response.status_code == 422, response.text
    assert "duplicate" in response.json()["detail"]
    assert kiosk.backend.decisions.store.for_arrival(arrival_id) == []


def test_an_invalid_field_is_named_and_never_echoed(kiosk: Kiosk) -> None:
    arrival_id = kiosk.arrive()
    csrf = kiosk.login("ivan")
    marker = "ECHO" * 5_000  # 20,000 characters: a note may hold 1,000
    response = kiosk.client.post(
        f"/api/arrivals/{arrival_id}/decision",
        json={"kind": "release", "reason": "DOCUMENTS_IN_ORDER", "note": marker},
        headers={"X-CSRF-Token": csrf},
    )
    assert response.status_code == 422
    assert "note" in response.json()["detail"]
    assert "ECHOECHO" not in response.text
    assert len(response.content) < 1_000


@pytest.mark.parametrize("arrival_id", [2**63, 2**64 + 5, 10**30, 0, -1])
def test_an_arrival_id_beyond_the_store_is_invalid_not_a_crash(
    kiosk: Kiosk, arrival_id: int
) -> None:
    csrf = kiosk.login("ivan")
    assert kiosk.client.get(f"/api/arrivals/{arrival_id}").status_code == 422
    assert kiosk.client.get(f"/arrivals/{arrival_id}").status_code == 422
    assert kiosk.client.get(f"/arrivals/{arrival_id}/live").status_code == 422
    decided = kiosk.client.post(
        f"/api/arrivals/{arrival_id}/decision",
        json={"kind": "release", "reason": "DOCUMENTS_IN_ORDER"},
        headers={"X-CSRF-Token": csrf},
    )
    assert decided.status_code == 422
    assert kiosk.client.get(f"/search?q=x&arrival={arrival_id}").status_code == 422


def test_the_largest_id_the_store_holds_is_simply_not_found(kiosk: Kiosk) -> None:
    kiosk.login("ivan")
    response = kiosk.client.get(f"/api/arrivals/{2**63 - 1}")
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"
