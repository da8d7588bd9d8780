"""The appliance image booted under QEMU, one box through its life, in order: it comes up
(service ready, kiosk page in Chromium, firewall refusing the network), takes a signed update
into its other slot and keeps it once the self-test passes, falls back by itself from a broken
update, and survives a power cut in the middle of an install with its data.

The tests share one box (module scope) because each state is the previous test's result and a
boot under TCG costs a minute or two; a failure leaves the next tests running on the box as it
is. Figures (boot to kiosk, install time) are printed (`pytest -s`) for the README."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.image.conftest import Bundles
from tests.image.machine import Machine, wait_until

# Deadlines: generous for TCG on a shared 2-core machine; a box that is not up by then is broken.
BOOT_S = 600.0
READY_S = 420.0
INSTALL_S = 900.0
DEVTOOLS = "http://127.0.0.1:9222/json/list"
KIOSK_URL = "http://127.0.0.1:8080/"
KIOSK_TITLE = "Border kiosk"  # ui_kiosk/templates/base.html, in the default language (en)
STICK = "/run/carec-usb"
MARKER = "/var/lib/carec-edge/power-cut-marker"
CAREC_EDGE = "/opt/carec-edge/.venv/bin/carec-edge"


@pytest.fixture(scope="module")
def box(
    image: Path, kvm: bool, bundles: Bundles, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Machine]:
    machine = Machine(
        tmp_path_factory.mktemp("box"), image, kvm, extra_disks=[("carec-usb", bundles.stick)]
    )
    machine.start()
    try:
        booted = machine.wait_for_agent(BOOT_S)
        print(f"\nfirst boot: guest agent after {booted:.0f} s")
        yield machine
    finally:
        machine.shutdown_hard()
        machine.disk.unlink(missing_ok=True)  # the serial logs stay for a failure's story


def test_service_reports_ready(box: Machine) -> None:
    # Type=notify: `active` only once the service sent READY=1 (store open, kiosk serving).
    wait_until(lambda: _active(box, "carec-edge"), READY_S, "carec-edge.service active")
    assert box.check("systemctl show -p Type --value carec-edge").strip() == "notify"
    assert box.check("systemctl show -p WatchdogUSec --value carec-edge").strip() == "30s"
    print(f"service ready {time.monotonic() - box.started_at:.0f} s after power-on")


def test_appliance_root_and_services(box: Machine) -> None:
    # The root is the slot's squashfs through dm-verity, read-only; what lasts is on /data.
    assert box.check("findmnt -n -o SOURCE,FSTYPE /").split() == ["/dev/mapper/root", "squashfs"]
    assert "verified" in box.check("veritysetup status root").split()
    assert box.run("touch /usr/carec-write-test").exit_code != 0
    assert box.check("findmnt -n -o SOURCE /data").strip() == "/dev/disk/by-label/carec-data"
    # The journal is persistent (on /data) and capped; time is synced; the firewall is loaded.
    box.check("test -d /var/log/journal/$(cat /etc/machine-id)")
    assert "SystemMaxUse=256M" in box.check("systemd-analyze cat-config systemd/journald.conf")
    for unit in ("systemd-timesyncd", "nftables", "systemd-journald"):
        assert _active(box, unit), unit
    assert not _active(box, "mosquitto")  # installed, started once the installer configures it


def test_kiosk_page_answers_in_chromium(box: Machine) -> None:
    # Chromium's DevTools endpoint (loopback only) is switched on through the installer's
    # kiosk.env; what it reports is the page the kiosk's Chromium really shows.
    box.check("echo CAREC_KIOSK_FLAGS=--remote-debugging-port=9222 > /etc/carec-edge/kiosk.env"
              " && systemctl restart carec-kiosk")  # fmt: skip
    page = wait_until(lambda: _kiosk_page(box), READY_S, "the kiosk page in Chromium")
    assert page["url"].startswith(KIOSK_URL), page
    assert page["title"] == KIOSK_TITLE, page
    assert box.check("systemctl show -p Restart --value carec-kiosk").strip() == "always"


def test_firewall_refuses_inbound_connection(box: Machine) -> None:
    before = _refused_inbound(box)
    # QEMU forwards a host port to the guest's 8080; the kiosk listens there on loopback only,
    # and the firewall drops the SYN arriving on the network interface before anything sees it.
    with socket.create_connection(("127.0.0.1", box.forwarded_port), timeout=10) as connection:
        connection.settimeout(20)
        connection.sendall(b"GET / HTTP/1.0\r\n\r\n")
        answer = _receive(connection)
    assert answer == b"", answer
    wait_until(lambda: _refused_inbound(box) > before, 60, "refused_inbound counter to rise")
    # Nothing listens on the network but the DHCP client (UDP 68, answers let in by rule).
    tcp = box.check("ss -Hltn | awk '{print $4}'").split()
    assert all(_loopback(address) for address in tcp), tcp
    udp = box.check("ss -Hlun | awk '{print $4}'").split()
    assert all(_loopback(address) or address.endswith(":68") for address in udp), udp
    assert box.run("command -v sshd").exit_code != 0  # no SSH installed


def test_update_installs_to_other_slot_and_is_kept(box: Machine, bundles: Bundles) -> None:
    assert _booted_slot(box) == "A"
    _mount_stick(box)
    started = time.monotonic()
    box.check(f"rauc install {STICK}/{bundles.good.name}", timeout=INSTALL_S)
    print(f"update installed in {time.monotonic() - started:.0f} s")
    assert _update_status(box)["primary"] == "B"  # slot B boots next, on trial
    box.reboot(BOOT_S)
    assert _booted_slot(box) == "B"
    assert _image_version(box) == bundles.good_version
    # The self-test blesses the slot: its entry loses the boot counter.
    wait_until(lambda: _entry_state(box, "B") == "good", READY_S, "slot B marked good")
    assert _active(box, "carec-edge")
    print(f"boot to kiosk after update {_boot_to_kiosk(box):.0f} s")


def test_broken_update_falls_back_by_itself(box: Machine, bundles: Bundles) -> None:
    _mount_stick(box)
    box.check(f"rauc install {STICK}/{bundles.broken.name}", timeout=INSTALL_S)
    assert _update_status(box)["primary"] == "A"  # A on trial
    boots_before = _boot_count(box)
    box.reboot(BOOT_S)
    # The broken slot boots, its self-test fails, it marks itself bad and restarts into B:
    # no one touches the box in between.
    wait_until(lambda: _back_on_b_after(box, boots_before + 1), 2 * BOOT_S, "fallback to B")
    assert _image_version(box) == bundles.good_version
    assert _entry_state(box, "A") == "bad"
    wait_until(lambda: _update_phase(box) == "rolled_back", READY_S, "update state rolled_back")
    assert _active(box, "carec-edge")


def test_power_cut_during_install_keeps_box_and_data(box: Machine, bundles: Bundles) -> None:
    box.check(f"echo kept-across-power-cut > {MARKER} && sync")
    _mount_stick(box)
    box.run(f"rauc install {STICK}/{bundles.good.name} >/run/install.log 2>&1 &")
    wait_until(lambda: _install_progress(box) >= 30, INSTALL_S, "install under way", 0.5)
    box.power_cut()
    box.start()
    box.wait_for_agent(BOOT_S)
    assert _booted_slot(box) == "B"
    assert box.check(f"cat {MARKER}").strip() == "kept-across-power-cut"
    wait_until(lambda: _active(box, "carec-edge"), READY_S, "carec-edge.service active")
    assert _entry_state(box, "B") == "good"
    print(f"power-on to kiosk page {_boot_to_kiosk(box):.0f} s")


# --- what the tests read in the guest -------------------------------------------------------


def _active(box: Machine, unit: str) -> bool:
    return box.run(f"systemctl is-active --quiet {unit}").exit_code == 0


def _kiosk_page(box: Machine) -> dict[str, str] | None:
    script = (
        "import json, urllib.request\n"
        f"pages = json.load(urllib.request.urlopen({DEVTOOLS!r}, timeout=5))\n"
        "print(json.dumps([p for p in pages if p['type'] == 'page']))\n"
    )
    done = box.run(f"python3 -c {_quoted(script)}")
    if done.exit_code != 0:
        return None
    # While a page loads Chromium reports its URL as the title: wait for the document's own.
    pages = [p for p in json.loads(done.stdout) if p["url"].startswith(KIOSK_URL)]
    return pages[0] if pages and pages[0]["title"] == KIOSK_TITLE else None


def _refused_inbound(box: Machine) -> int:
    listing = json.loads(box.check("nft -j list counter inet carec refused_inbound"))
    counter = next(item["counter"] for item in listing["nftables"] if "counter" in item)
    return int(counter["packets"])


def _receive(connection: socket.socket) -> bytes:
    try:
        return connection.recv(1024)
    except (ConnectionResetError, TimeoutError):
        return b""


def _loopback(address: str) -> bool:
    host = address.rsplit(":", 1)[0].strip("[]").split("%")[0]
    return host in {"127.0.0.1", "::1"} or host.startswith("127.")


def _mount_stick(box: Machine) -> None:
    box.check(f"mountpoint -q {STICK} || (mkdir -p {STICK} && "
              f"mount -o ro /dev/disk/by-id/virtio-carec-usb {STICK})")  # fmt: skip


def _booted_slot(box: Machine) -> str:
    for option in box.check("cat /proc/cmdline").split():
        if option.startswith("rauc.slot="):
            return option.partition("=")[2]
    raise AssertionError("no rauc.slot= on the kernel command line")


def _image_version(box: Machine) -> str:
    return box.check(". /etc/os-release && echo $IMAGE_VERSION").strip()


def _update_status(box: Machine) -> dict[str, Any]:
    status: dict[str, Any] = json.loads(box.check(f"{CAREC_EDGE} update status --json"))
    return status


def _entry_state(box: Machine, slot: str) -> str:
    states = {entry["slot"]: entry["state"] for entry in _update_status(box)["slots"]}
    return str(states[slot])


def _update_phase(box: Machine) -> str:
    return str((_update_status(box).get("update") or {}).get("phase", ""))


def _boot_count(box: Machine) -> int:
    return len(box.check("journalctl --list-boots --no-pager -q").splitlines())


def _back_on_b_after(box: Machine, boots: int) -> bool:
    # Polled while the box reboots by itself: a guest going down answers nothing (None).
    done = box.run_if_up(
        "grep -o 'rauc.slot=[AB]' /proc/cmdline && journalctl --list-boots --no-pager -q | wc -l"
    )
    if done is None or done.exit_code != 0:
        return False
    slot, count = done.stdout.split()
    return slot == "rauc.slot=B" and int(count) > boots


def _install_progress(box: Machine) -> int:
    done = box.run(
        "busctl get-property de.pengutronix.rauc / de.pengutronix.rauc.Installer Progress"
    )
    # `(isi) 40 "Copying image to rootfs.0" 1`
    parts = done.stdout.split()
    return int(parts[1]) if done.exit_code == 0 and len(parts) > 1 else 0


def _boot_to_kiosk(box: Machine) -> float:
    wait_until(lambda: _kiosk_page(box), READY_S, "the kiosk page in Chromium")
    return time.monotonic() - box.started_at


def _quoted(text: str) -> str:
    return "'" + text.replace("'", "'\"'\"'") + "'"
