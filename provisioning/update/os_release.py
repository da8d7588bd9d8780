"""IMAGE_VERSION= of an os-release text (os-release(5)): the running image's, a slot image's.
One reader, so the self-test, the TUF client and the bundle builder agree on the version."""

from __future__ import annotations


def image_version_in(text: str) -> str | None:
    """The value of IMAGE_VERSION (its shell quotes removed), or None when the text has none."""
    for line in text.splitlines():
        key, _, value = line.partition("=")
        if key.strip() == "IMAGE_VERSION":
            return value.strip().strip("\"'")
    return None
