"""The kiosk's settings: where it listens, how long a session lives, the post's time zone."""

from __future__ import annotations

import zoneinfo
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator


class KioskSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    # Loopback only unless configured otherwise: the kiosk's browser runs on the box.
    host: str = "127.0.0.1"
    port: Annotated[int, Field(gt=0, lt=65536)] = 8080
    # Host names the browser may use besides `host`, 127.0.0.1 and localhost (DNS rebinding).
    allowed_hosts: tuple[str, ...] = ()
    # A session nobody touched for this long is over; the officer logs in again. Sessions are
    # kept in the store (hashed), so a restart does not end them.
    idle_timeout_minutes: Annotated[float, Field(gt=0, le=24 * 60)] = 10.0
    # Only when the kiosk is served over HTTPS (never on the box's loopback).
    cookie_secure: bool = False
    # Failed logins of one badge or id before it is locked, and for how long.
    max_login_failures: Annotated[int, Field(ge=1)] = 5
    lockout_minutes: Annotated[float, Field(gt=0)] = 5.0
    # Before an officer has chosen one, and on the login page.
    default_language: str = "en"
    # Times are stored in UTC and shown in the post's zone.
    timezone: str = "UTC"
    # The shift report covers this many hours back from now by default.
    shift_hours: Annotated[float, Field(gt=0, le=7 * 24)] = 12.0
    # A comment line on the event stream this often, so a closed tab is noticed.
    heartbeat_seconds: Annotated[float, Field(gt=0)] = 15.0

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value!r} is not a time zone such as Asia/Almaty") from None
        return value

    @property
    def idle_timeout_seconds(self) -> float:
        return self.idle_timeout_minutes * 60

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.timezone)
