"""What every device's config shares. Each driver module adds its own model with a `kind`
literal; `drivers.registry` joins them into one discriminated union for the config file."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

DeviceId = Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")]


class DeviceConfigBase(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: DeviceId
    # The lane whose truck this device's readings belong to; none for a device shared by lanes.
    lane: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]{1,32}$")] | None = None


class SerialConfigBase(DeviceConfigBase):
    port: Annotated[str, Field(min_length=1)]  # /dev/ttyUSB0, /dev/serial/by-id/..., a pty
    baudrate: Annotated[int, Field(gt=0)] = 9600
