"""The demo's national centres: KZ-CIS, KG-CIS and CN-CIS, each a `carec-edge centre run`
process with its own database, and the Kazakh customs system they serve, simulated.

KZ and KG each have their broker (the posts of a country and its centre meet on it); the two
centres exchange over a CIE link (each publishes to the other's broker), so an exit
confirmation from the Kazakh exit post reaches the Kyrgyz entry post through both centres. The
KZ-CN link is SIE: signed bundles in a folder each way, every record held in CN-CIS's review
queue until an operator decides. The simulated CIS submits its day to KZ-CIS through the API
and the drop directory, one file in each format.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path

from centre.config import token_sha256
from centre.console.operators import OperatorError, add_operator
from centre.formats.cuscar import write_cuscar
from centre.formats.ncts_xml import write_ncts_xml
from centre.relay_tap import relay_patterns
from centre.store import open_centre_database
from edge.manifest import Manifest
from edge.synthetic import OFFICE_BORDER
from provisioning.identity.fleet import Fleet
from sync.broker_config import TopicAccess

KZ_CIS, KG_CIS, CN_CIS = "KZ-CIS", "KG-CIS", "CN-CIS"
ENTRY_OFFICE = "KG417000"  # the Kyrgyz entry post's customs office
# The simulated CIS's API token and the consoles' operator: public, like the demo officers'
# PINs; the demo only (its centres' databases are made here, in the demo's directory).
DEMO_CIS_TOKEN = "demo-kz-cis-token-not-secret"
DEMO_OPERATOR, DEMO_OPERATOR_PASSWORD = "demo-operator", "demo-operator-password"
DEMO_FLEET, DEMO_FLEET_PASSWORD = "demo-fleet", "demo-fleet-password"  # the fleet pages' roles
DEMO_AUDITOR, DEMO_AUDITOR_PASSWORD = "demo-auditor", "demo-auditor-password"
DEMO_LOGINS = (
    (DEMO_OPERATOR, DEMO_OPERATOR_PASSWORD, "operator"),
    (DEMO_FLEET, DEMO_FLEET_PASSWORD, "fleet"),
    (DEMO_AUDITOR, DEMO_AUDITOR_PASSWORD, "auditor"),
)
API_BATCH = 500


def centre_access(node: str) -> TopicAccess:
    """A centre on its own country's broker: its node topics and its relay tap's."""
    return TopicAccess.for_node(node, also_read=tuple(relay_patterns(node[:2])))


def _toml_list(items: Sequence[str]) -> str:
    return "[" + ", ".join(f'"{item}"' for item in items) + "]"


def centre_config(
    root: Path, fleet: Fleet, node: str, *, broker: int | None, api_port: int,
    routing: dict[str, list[str]], partners: Sequence[str], drop: bool = False,
    console: int | None = None, fleet_section: str = "",
) -> str:  # fmt: skip
    """The TOML of a demo centre; `partners` are TOML tables of its [[partners]]."""
    lines = [
        "[centre]", f'id = "{node}"', f'database = "sqlite:///{root / node / "centre.sqlite3"}"',
        "", "[identity]", f'identity_dir = "{fleet.nodes[node]}"',
        f'trust_store = "{fleet.trust_store}"', "", "[api]", f"port = {api_port}",
    ]  # fmt: skip
    if node == KZ_CIS:
        lines += ["", "[[api.clients]]", 'name = "kz-cis"', 'country = "KZ"',
                  f'token_sha256 = "{token_sha256(DEMO_CIS_TOKEN)}"']  # fmt: skip
    if broker is not None:
        lines += ["", "[broker]", 'host = "127.0.0.1"', f"port = {broker}",
                  f'ca_file = "{fleet.ca_bundle}"', "redeliver_after_s = 10.0"]  # fmt: skip
    if console is not None:
        # Plain HTTP on loopback: the demo only (a centre puts TLS in front of its console).
        lines += ["", "[console]", f"port = {console}", "cookie_secure = false"]
    if drop:
        lines += ["", "[drop]", f'directory = "{root / node / "drop"}"', "poll_s = 0.5"]
    lines += ["", "[routing]"] + [
        f"{office} = {_toml_list(nodes)}" for office, nodes in routing.items()
    ]
    return "\n".join([*lines, "", *partners, fleet_section]) + "\n"


def cie_partner(node: str, broker: int, fleet: Fleet) -> str:
    return (
        f'[[partners]]\ncountry = "{node[:2]}"\ncentre = "{node}"\nmode = "cie"\n'
        f'host = "127.0.0.1"\nport = {broker}\nca_file = "{fleet.ca_bundle}"\n'
    )


def sie_partner(node: str, out: Path, into: Path) -> str:
    return (
        f'[[partners]]\ncountry = "{node[:2]}"\ncentre = "{node}"\nmode = "sie"\n'
        f'bundle_out = "{out}"\nbundle_in = "{into}"\nbundle_every_minutes = 0.05\n'
    )


class Centre:
    """One `carec-edge centre run`, its log in a file."""

    def __init__(
        self, root: Path, node: str, config: str, api_port: int, console: int | None = None
    ) -> None:
        self.node = node
        (root / node).mkdir(parents=True, exist_ok=True)
        self.config = root / f"{node}.toml"
        self.config.write_text(config, encoding="utf-8")
        self.log_path = root / f"{node}.log"
        self.api = f"http://127.0.0.1:{api_port}"
        self.database = root / node / "centre.sqlite3"
        self.drop = root / node / "drop"
        self.console_url = f"http://127.0.0.1:{console}/" if console else None
        self.process: subprocess.Popen[bytes] | None = None
        if console:
            engine = open_centre_database(f"sqlite:///{self.database}")
            for login, password, role in DEMO_LOGINS:
                with contextlib.suppress(OperatorError):  # a --dir used before has it already
                    add_operator(engine, login, password, role)
            engine.dispose()

    def start(self, wait_until: Callable[[Callable[[], bool], str], None], linked: bool) -> None:
        command = [sys.executable, "-m", "edge.cli", "centre", "run", "--config",
                   str(self.config)]  # fmt: skip
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(command, stderr=log, stdout=log, env=os.environ.copy())
        wait_until(lambda: b"centre.api" in self.log_path.read_bytes(), f"{self.node}'s API")
        if self.console_url:
            wait_until(
                lambda: b"centre.console" in self.log_path.read_bytes(), f"{self.node}'s console"
            )
        if linked:
            wait_until(
                lambda: b"sync.subscribed" in self.log_path.read_bytes(), f"{self.node}'s link"
            )

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)

    def count(self, sql: str) -> int:
        """A count from the centre's database (the demo's view; the centre writes it)."""
        import sqlite3

        with sqlite3.connect(self.database) as db:
            return int(db.execute(sql).fetchone()[0])


def submit_through_api(centre: Centre, records: Sequence[Manifest]) -> dict[str, int]:
    """POST the records to the centre's API in batches, as a CIS would; outcomes counted."""
    counts: dict[str, int] = {}
    for start in range(0, len(records), API_BATCH):
        body = "[" + ",".join(r.to_json() for r in records[start : start + API_BATCH]) + "]"
        request = urllib.request.Request(
            f"{centre.api}/v1/records", data=body.encode(), method="POST",
            headers={"Authorization": f"Bearer {DEMO_CIS_TOKEN}",
                     "Content-Type": "application/json"},
        )  # fmt: skip
        with urllib.request.urlopen(request, timeout=60) as response:
            for result in json.load(response)["results"]:
                counts[result["outcome"]] = counts.get(result["outcome"], 0) + 1
    return counts


def drop_files(centre: Centre, records: Sequence[Manifest]) -> list[str]:
    """The records as three files in the drop directory, one in each format; their names.
    Each is written under a temporary name and renamed, as an SFTP client does."""
    incoming = centre.drop / "incoming"
    incoming.mkdir(parents=True, exist_ok=True)
    third = max(1, len(records) // 3)
    parts = {
        "day.jsonl": "".join(r.to_json() + "\n" for r in records[:third]).encode(),
        "day.edi": write_cuscar(records[third : 2 * third], "KZCIS", "KZCENTRE"),
        "day.xml": write_ncts_xml(records[2 * third :]),
    }
    for name, data in parts.items():
        partial = incoming / f"{name}.part"
        partial.write_bytes(data)
        partial.rename(incoming / name)
    return list(parts)


def fetch_events(centre: Centre) -> list[dict[str, object]]:
    """Every event of the centre's feed for its CIS, page by page after the cursor."""
    events: list[dict[str, object]] = []
    cursor = 0
    while True:
        request = urllib.request.Request(
            f"{centre.api}/v1/events?after={cursor}&limit=1000",
            headers={"Authorization": f"Bearer {DEMO_CIS_TOKEN}"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            page = json.load(response)
        if not page["events"]:
            return events
        events += page["events"]
        cursor = page["cursor"]


KZ_ROUTING = {OFFICE_BORDER: ["KZ-NURZHOLY-1"]}
KG_ROUTING = {ENTRY_OFFICE: ["KG-TORUGART-1"]}
