"""The officer's web app: server, templates, static assets and translations.

`create_app(backend, settings)` makes the app; `KioskBackend` is all it needs from the rest of
the box, and `StoreBackend` implements it over the core. See `ui_kiosk/README.md`.
"""

from ui_kiosk.app import create_app
from ui_kiosk.backend import KioskBackend
from ui_kiosk.settings import KioskSettings

__all__ = ["KioskBackend", "KioskSettings", "create_app"]
