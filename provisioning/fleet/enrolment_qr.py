"""The enrolment code as a QR code (segno), for the box's console and its kiosk screen: the
operator's phone reads the node id and the code the console must show."""

from __future__ import annotations

import io

import segno


def qr_payload(node_id: str, code: str) -> str:
    return f"CAREC-ENROL {node_id} {code}"


def qr_text(node_id: str, code: str) -> str:
    """The QR code in block characters, for a terminal (dark on light, with its quiet zone)."""
    out = io.StringIO()
    segno.make(qr_payload(node_id, code), error="m").terminal(out=out, compact=True)
    return out.getvalue()


def qr_svg(node_id: str, code: str, *, scale: int = 6) -> str:
    """The QR code as an inline SVG element, for a web page."""
    return str(segno.make(qr_payload(node_id, code), error="m").svg_inline(scale=scale))
