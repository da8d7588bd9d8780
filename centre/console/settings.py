"""The console's settings: the `[console]` section of the centre's configuration."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

from centre.console.i18n import LANGUAGES
from edge.config import ConfigPath


class ConsoleSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    # Where the console listens: loopback by default (a reverse proxy with TLS in front), or
    # with its own TLS (tls_cert and tls_key).
    host: Annotated[str, Field(min_length=1)] = "127.0.0.1"
    port: Annotated[int, Field(ge=0, lt=65536)] = 8444
    tls_cert: ConfigPath | None = None
    tls_key: ConfigPath | None = None
    # Host names the console answers to besides host, 127.0.0.1 and localhost.
    allowed_hosts: list[str] = Field(default_factory=list)
    # A session without a request for this long ends.
    idle_timeout_minutes: Annotated[float, Field(ge=1, le=24 * 60)] = 30.0
    default_language: Annotated[str, Field(pattern="^(" + "|".join(LANGUAGES) + ")$")] = "en"
    # Session cookies sent over HTTPS only. Set false only for plain HTTP on loopback (demo).
    cookie_secure: bool = True
    # After this many failed logins in a row, a login is refused for lockout_minutes.
    max_login_failures: Annotated[int, Field(ge=1, le=100)] = 5
    lockout_minutes: Annotated[float, Field(ge=0.1, le=24 * 60)] = 10.0

    @model_validator(mode="after")
    def _tls_pair(self) -> ConsoleSettings:
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ValueError("tls_cert and tls_key go together")
        return self
