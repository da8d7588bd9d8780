"""The seam a reader vendor's protocol plugs into: the config every e-seal reader shares, the
base class an implementation extends, and the registry that picks one by name.

A vendor protocol is one module `drivers/eseal/<vendor>_protocol.py` holding a subclass of
`ESealProtocol` with a `name` and the `@register` decorator; the package imports every such
module, so `ESealReaderConfig(protocol="<its name>")` then selects it. It turns bytes into
`SealRead`s through `seal_read`, which gives every vendor the same seal id text and types."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Annotated, ClassVar, Literal, TypeVar

from pydantic import Field, field_validator

from drivers.device_config import SerialConfigBase
from drivers.eseal.messages import SealId
from drivers.protocol import Protocol
from edge.readings import SealRead, SealState
from edge.timeutil import utcnow


class ESealReaderConfig(SerialConfigBase):
    kind: Literal["eseal"] = "eseal"
    protocol: str = "carec-eseal/1"  # which registered implementation speaks to the reader
    baudrate: Annotated[int, Field(gt=0)] = 115200
    poll_interval_s: Annotated[float, Field(gt=0, le=3600)] = 5.0  # STATUS_REQUEST when idle

    @field_validator("protocol")
    @classmethod
    def _registered(cls, name: str) -> str:
        if name not in _REGISTRY:
            known = ", ".join(sorted(_REGISTRY)) or "none"
            raise ValueError(f"unknown e-seal reader protocol {name!r}; known: {known}")
        return name


class ESealProtocol(Protocol):
    """A reader protocol: bytes in, seal reads out. Subclasses set `name` and implement
    `feed` and `reset` (and `poll` when the reader is polled)."""

    name: ClassVar[str]

    def __init__(self, config: ESealReaderConfig) -> None:
        super().__init__(config.id)
        self.config = config

    def seal_read(
        self,
        seal: SealId,
        state: SealState,
        *,
        battery_low: bool = False,
        events: Iterable[tuple[SealState, dt.datetime]] = (),
    ) -> SealRead:
        return SealRead(
            device=self.device_id,
            at=utcnow(),
            seal_id=str(seal),
            electronic=True,
            state=state,
            battery_low=battery_low,
            events=tuple((event_state.value, at) for event_state, at in events),
        )


_REGISTRY: dict[str, type[ESealProtocol]] = {}
P = TypeVar("P", bound=type[ESealProtocol])


def register(cls: P) -> P:
    if cls.name in _REGISTRY and _REGISTRY[cls.name] is not cls:
        raise ValueError(f"two e-seal protocols named {cls.name!r}")
    _REGISTRY[cls.name] = cls
    return cls


def protocol_names() -> list[str]:
    return sorted(_REGISTRY)


def make_protocol(config: ESealReaderConfig) -> ESealProtocol:
    return _REGISTRY[config.protocol](config)
