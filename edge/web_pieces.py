"""The web pieces the officer's kiosk (`ui_kiosk`) and the centre's console (`centre.console`)
share. Both may import the edge core and neither may import the other, so what they have in
common lives here: the security headers on every response, the Jinja2 environment of a
template folder, and a gettext catalog compiled in memory from its .po file."""

from __future__ import annotations

import gettext
import io
from collections.abc import Sequence
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from starlette.types import ASGIApp, Message, Receive, Scope, Send

Header = tuple[bytes, bytes]


class SecurityHeaders:
    """Adds `headers` (CSP, nosniff, referrer policy, no framing, no caching: each app's own
    list) to every response that does not set them itself."""

    def __init__(self, app: ASGIApp, headers: Sequence[Header]) -> None:
        self.app = app
        self.headers = list(headers)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                extra = [(n, v) for n, v in self.headers if n not in present]
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app(scope, receive, send_with_headers)


def template_environment(folder: Path) -> Environment:
    """The templates of `folder`: autoescaped everywhere, and an undefined name is an error."""
    return Environment(
        loader=FileSystemLoader(folder),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def compile_catalog(path: Path) -> gettext.GNUTranslations:
    """A .po file as gettext translations, compiled in memory; fuzzy entries are left out."""
    with path.open("rb") as po:
        catalog = read_po(po)
    buffer = io.BytesIO()
    write_mo(buffer, catalog, use_fuzzy=False)
    buffer.seek(0)
    return gettext.GNUTranslations(buffer)
