"""Every device kind in one place: its config model (a discriminated union on `kind`, so the
config file names the kind and gets that kind's keys checked) and how to start it."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any
from typing import Protocol as TypingProtocol

from pydantic import Field, TypeAdapter, ValidationError

from drivers.barcode import BarcodeProtocol, BarcodeScannerConfig
from drivers.camera import CameraConfig
from drivers.eseal import ESealReaderConfig
from drivers.eseal import make_protocol as make_eseal_protocol
from drivers.mrz_reader import MrzReaderConfig, MrzReaderProtocol
from drivers.protocol import Protocol
from drivers.serial_device import HealthCallback, ReadingCallback, RejectCallback, SerialDevice
from edge.manifest import field_path
from edge.readings import Health

if TYPE_CHECKING:
    from drivers.camera.trigger import FrameSink

SerialDeviceConfig = BarcodeScannerConfig | MrzReaderConfig | ESealReaderConfig
DeviceConfig = Annotated[SerialDeviceConfig | CameraConfig, Field(discriminator="kind")]
DEVICE_KINDS = ("barcode", "mrz", "eseal", "camera")
SERIAL_KINDS = ("barcode", "mrz", "eseal")

_DEVICE_LIST: TypeAdapter[list[DeviceConfig]] = TypeAdapter(list[DeviceConfig])
_PROTOCOLS: dict[str, Callable[[Any], Protocol]] = {
    "barcode": BarcodeProtocol,
    "mrz": MrzReaderProtocol,
    "eseal": make_eseal_protocol,
}


class DeviceConfigError(ValueError):
    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def parse_devices(raw: list[dict[str, Any]]) -> list[DeviceConfig]:
    """The `[[devices]]` tables of the config file, each checked against its kind's model."""
    try:
        devices = _DEVICE_LIST.validate_python(raw)
    except ValidationError as error:
        problems = []
        for item in error.errors(include_url=False):
            # pydantic puts the kind in the location ("0", "barcode", "port"); drop it.
            loc = [p for p in item["loc"] if not (isinstance(p, str) and p in DEVICE_KINDS)]
            path = field_path(("devices", *loc))
            message = item["msg"] if item["type"] != "extra_forbidden" else "unknown key"
            problems.append(f"{path}: {message}")
        raise DeviceConfigError(problems) from None
    seen: set[str] = set()
    for index, device in enumerate(devices):
        if device.id in seen:
            raise DeviceConfigError([f"devices[{index}].id: {device.id!r} is used twice"])
        seen.add(device.id)
    return devices


class RunningDevice(TypingProtocol):
    @property
    def device_id(self) -> str: ...
    @property
    def health(self) -> Health: ...

    def start(self) -> None: ...
    def stop(self, timeout: float = 5.0) -> None: ...


class CameraDevice:
    """A camera and its presence trigger, started and stopped together. While a vehicle is in
    view, frames go to `on_frame` (plate recognition plugs in there)."""

    def __init__(
        self,
        config: CameraConfig,
        on_reading: ReadingCallback,
        on_health: HealthCallback | None,
        on_frame: FrameSink | None,
    ) -> None:
        from drivers.camera.capture import Camera  # OpenCV: only where a camera runs
        from drivers.camera.trigger import PresenceTrigger

        self.device_id = config.id
        self.camera = Camera(config, on_health=on_health)
        self.trigger = PresenceTrigger(self.camera, config.trigger, on_reading, on_frame)

    @property
    def health(self) -> Health:
        return self.camera.health

    def start(self) -> None:
        self.camera.start()
        self.trigger.start()

    def stop(self, timeout: float = 5.0) -> None:
        self.trigger.stop(timeout)
        self.camera.stop(timeout)


def make_device(
    config: DeviceConfig,
    on_reading: ReadingCallback,
    on_health: HealthCallback | None = None,
    on_reject: RejectCallback | None = None,
    on_frame: FrameSink | None = None,
) -> RunningDevice:
    """A device ready to start; its callbacks are called from its own thread(s)."""
    if isinstance(config, CameraConfig):
        return CameraDevice(config, on_reading, on_health, on_frame)
    protocol = _PROTOCOLS[config.kind](config)
    return SerialDevice(
        protocol,
        config.port,
        on_reading,
        baudrate=config.baudrate,
        on_health=on_health,
        on_reject=on_reject,
        poll_interval_s=getattr(config, "poll_interval_s", None),
    )
