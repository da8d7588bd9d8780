"""One country's centre as several `carec-edge centre run` processes: the broker they share
(real mosquitto, mutual TLS, the topic ACL), each instance's config file, and what the test
reads from the one PostgreSQL they share.

Which instance took a message is not in the centre's tables (every instance writes the same
rows), so the test database gets triggers of its own: each `cis_events` and `inbox_parked` row
inserted is noted with the inserting connection's `application_name`, which each instance's
database URL sets. The product is unchanged; only this test's database has the triggers.
"""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

from sqlalchemy import Engine, func, select, text

from centre.config import token_sha256
from centre.store.schema import events
from edge.store.schema import inbox_applied, quarantine
from provisioning.identity.fleet import Fleet
from sync.broker_config import BrokerConfig, TlsListener, TopicAccess
from sync.broker_process import MosquittoBroker
from tests.integration.service_process import CarecProcess

SHARED_GROUP = "centre"
API_TOKEN = "scale-test-token-of-the-kz-cis-client"
TAKEN_BY = "scale_taken_by"  # the test's own table: message id -> instance, applied or parked
APPLIED, PARKED = "applied", "parked"

T = TypeVar("T")


def start_broker(fleet: Fleet, nodes: Sequence[str], directory: Path) -> MosquittoBroker:
    """mosquitto with mutual TLS and each node's ACL (writes its own, reads what is for it)."""
    tls = TlsListener(
        port=0, cafiles=(fleet.ca_bundle,), certfile=fleet.broker_cert, keyfile=fleet.broker_key
    )
    access = tuple(TopicAccess.for_node(node) for node in nodes)
    return MosquittoBroker(BrokerConfig(tls=tls, access=access), directory).start()


def instance_url(url: str, instance: str) -> str:
    """The one database, under a connection name that tells this instance's writes apart."""
    return f"{url}&application_name=centre-{instance}"


def write_config(
    path: Path, fleet: Fleet, centre: str, instance: str, url: str, broker: MosquittoBroker
) -> Path:
    """A `centre run` config: one centre id and identity, this instance's name, the shared
    database and broker group; the API on a free port."""
    path.write_text(
        f"""\
[centre]
id = "{centre}"
database = "{instance_url(url, instance)}"
instance = "{instance}"

[identity]
identity_dir = "{fleet.nodes[centre]}"
trust_store = "{fleet.trust_store}"

[broker]
host = "{broker.host}"
port = {broker.port}
ca_file = "{fleet.ca_bundle}"
shared_group = "{SHARED_GROUP}"

[api]
host = "127.0.0.1"
port = 0

[[api.clients]]
name = "kz-cis"
country = "{centre[:2]}"
token_sha256 = "{token_sha256(API_TOKEN)}"
""",
        encoding="utf-8",
    )
    return path


class CentreInstance(CarecProcess):
    """`carec-edge centre run --config FILE`, as systemd would run it on one machine."""

    def __init__(self, config: Path, data_dir: Path) -> None:
        super().__init__(data_dir, "centre", "run", "--config", str(config))

    def wait_serving(self, timeout: float = 60.0) -> int:
        """Until the instance is subscribed on the broker and its API listens; the API port."""
        self.wait_logs(("centre.api", "port="), ("sync.subscribed", "peer=broker"), timeout=timeout)
        [api_line] = [line for line in self.log if "centre.api" in line]
        return int(api_line.rsplit("port=", 1)[1].split()[0])


def api_get(port: int, path: str) -> dict[str, object]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}", headers={"Authorization": f"Bearer {API_TOKEN}"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        body: dict[str, object] = json.loads(response.read())
        return body


# -- what the shared database holds ----------------------------------------------------------


def note_taking_instance(engine: Engine) -> None:
    """The test's triggers: every `cis_events` row inserted (a message applied) and every
    `inbox_parked` row (a message taken ahead of a gap in its stream, applied later by whichever
    instance fills the gap) is noted with the connection's application_name: the instance."""
    with engine.begin() as conn:
        conn.execute(text(f"CREATE TABLE {TAKEN_BY} (message_id TEXT, instance TEXT, kind TEXT)"))
        for table, id_column, kind in (("cis_events", "message_id", APPLIED), (
            "inbox_parked", "id", PARKED,
        )):  # fmt: skip
            conn.execute(
                text(f"""
                CREATE FUNCTION note_{kind}() RETURNS trigger AS $$
                BEGIN
                    INSERT INTO {TAKEN_BY}
                    VALUES (NEW.{id_column}, current_setting('application_name'), '{kind}');
                    RETURN NEW;
                END $$ LANGUAGE plpgsql
                """)
            )
            conn.execute(
                text(
                    f"CREATE TRIGGER note_{kind} AFTER INSERT ON {table} "
                    f"FOR EACH ROW EXECUTE FUNCTION note_{kind}()"
                )
            )


def taken_by_instance(engine: Engine, kind: str) -> dict[str, int]:
    """How many messages each instance applied (or parked), committed: the trigger's rows
    commit with the transaction that wrote them."""
    query = text(f"SELECT instance, count(*) FROM {TAKEN_BY} WHERE kind = :kind GROUP BY instance")
    with engine.connect() as conn:
        return {instance: count for instance, count in conn.execute(query, {"kind": kind})}


def event_count(engine: Engine) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(events)).scalar_one()


def event_ids(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return list(conn.execute(select(events.c.message_id)).scalars())


def applied_ids(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return list(conn.execute(select(inbox_applied.c.id)).scalars())


def quarantined(engine: Engine) -> list[tuple[str, str]]:
    with engine.connect() as conn:
        rows = conn.execute(select(quarantine.c.reason, quarantine.c.detail))
        return [(reason, detail) for reason, detail in rows]


def apply_rate(engine: Engine) -> float:
    """Events applied per second, from the first event's commit time to the last's."""
    query = select(func.min(events.c.received_at), func.max(events.c.received_at), func.count())
    with engine.connect() as conn:
        first, last, count = conn.execute(query).one()
    seconds = (last - first).total_seconds()
    return float(count) / seconds if seconds > 0 else float("inf")


def wait_until(what: str, probe: Callable[[], T], done: Callable[[T], bool], timeout: float) -> T:
    """Poll `probe` until `done` holds of what it returns; fails naming `what` and the last
    value seen. A deadline on a condition, not a pace: it returns as soon as the condition is
    met."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if done(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout} s; last seen {value!r}")
        time.sleep(0.1)  # the poll's interval: the next look at the database
