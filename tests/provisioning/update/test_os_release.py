"""The one IMAGE_VERSION reader the self-test, the TUF client and the bundle builder share."""

from __future__ import annotations

from provisioning.update.os_release import image_version_in


def test_image_version_plain_or_quoted() -> None:
    assert image_version_in("ID=debian\nIMAGE_VERSION=1.2.0+g1a2b3c4\n") == "1.2.0+g1a2b3c4"
    assert image_version_in('IMAGE_VERSION="1.3.0"\n') == "1.3.0"
    assert image_version_in("IMAGE_VERSION='1.4.0'\n") == "1.4.0"


def test_no_image_version_is_none_not_another_key() -> None:
    assert image_version_in('ID=debian\nIMAGE_ID=carec-edge\nVERSION_ID="12"\n') is None
    assert image_version_in("") is None
