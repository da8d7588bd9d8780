"""A link with a receiving pipeline verifies the next batch on its own thread while the store's
thread commits the one before. Batches are applied one at a time, in the order received, and a
batch's MQTT messages are acknowledged to the broker only once its commit is done; a batch
whose commit fails is never acknowledged, so the broker still has it."""

from __future__ import annotations

import gc
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError

from edge.service import GC_YOUNG_THRESHOLD, settle_heap
from edge.store import open_database
from sync.apply import exit_confirmation_json
from sync.frame import pack
from sync.inbox import Checked, Inbox, Incoming, Outcome, Result
from sync.messages import ExitConfirmationMessage
from sync.transport import PeerLink, PeerSettings, Pipeline
from tests.fixtures.records import record
from tests.sync.crossing import ENTRY, EXIT, wait_until
from tests.sync.test_frames import (
    SIGNER,
    TOPIC,
    Lookups,
    applied_ids,
    arrivals,
    entry_inbox,
)


class Broker:
    """Stands in for paho's client: records the acknowledgements the link sends."""

    def __init__(self) -> None:
        self.acked: list[int] = []

    def ack(self, mid: int, qos: int) -> None:
        assert qos == 1
        self.acked.append(mid)


class Store:
    """The store's one thread, with a gate: a batch's commit waits until the test opens it,
    and `fail` makes the next commit raise, as a failing database would."""

    def __init__(self, inbox: Inbox) -> None:
        self.inbox = inbox
        self.thread = ThreadPoolExecutor(max_workers=1)
        self.gate = threading.Semaphore(0)
        self.checked: list[int] = []  # the batches the link checked, by their first mid
        self.committed: list[list[Outcome]] = []
        self.fail = False

    def check(self, batch: Sequence[Incoming]) -> Checked:
        assert threading.current_thread().name.startswith("sync-")  # the link's thread
        self.checked.append(len(self.checked) + 1)
        return self.inbox.check(batch)

    def apply(self, checked: Checked) -> Future[list[Result]]:
        return self.thread.submit(self._apply, checked)

    def _apply(self, checked: Checked) -> list[Result]:
        self.gate.acquire()
        if self.fail:
            self.fail = False
            raise OperationalError("COMMIT", {}, Exception("disk I/O error"))
        results = self.inbox.apply(checked)
        self.committed.append([r.outcome for r in results])
        return results


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    return open_database(tmp_path / "entry")


@pytest.fixture
def store(engine: Engine) -> Iterator[Store]:
    store = Store(entry_inbox(engine, Lookups()))
    yield store
    store.gate.release(100)
    store.thread.shutdown(wait=True)


@pytest.fixture
def link(store: Store) -> Iterator[tuple[PeerLink, Broker]]:
    settings = PeerSettings("hub", "127.0.0.1", 1, Path("ca"), Path("crt"), Path("key"), tls=False)
    link = PeerLink(settings, ENTRY, None, Pipeline(store.check, store.apply))
    broker = Broker()
    link._client = broker  # type: ignore[assignment]
    link._worker.start()  # the worker alone: no broker, messages come from the test
    yield link, broker
    store.gate.release(100)
    link._stop.set()
    link._events.put(("wake",))
    link._worker.join(10)


def deliver(link: PeerLink, mid: int, data: bytes) -> None:
    """What paho's thread puts on the worker's queue for one message."""
    link._events.put(("message", mid, 1, TOPIC, data))


def eventually(condition: Callable[[], bool], what: str) -> None:
    wait_until(condition, 10, what)


def test_the_next_batch_is_verified_while_the_last_commits_and_acked_only_after(
    link: tuple[PeerLink, Broker], store: Store, engine: Engine
) -> None:
    peer_link, broker = link
    envelopes = arrivals(6)
    deliver(peer_link, 11, pack(envelopes[:3], SIGNER))
    eventually(lambda: store.checked == [1], "the first batch checked")
    deliver(peer_link, 12, pack(envelopes[3:], SIGNER))
    # The second batch is verified while the first has not committed: nothing acknowledged.
    eventually(lambda: store.checked == [1, 2], "the second batch checked meanwhile")
    assert store.committed == []
    assert broker.acked == []
    store.gate.release()
    eventually(lambda: broker.acked == [11], "the first batch acknowledged once committed")
    assert len(applied_ids(engine)) == 3
    store.gate.release()
    eventually(lambda: broker.acked == [11, 12], "the second, after its own commit")
    assert store.committed == [[Outcome.APPLIED] * 3, [Outcome.APPLIED] * 3]
    assert peer_link.stats.applied == 6


def test_batches_are_applied_in_the_order_received(
    link: tuple[PeerLink, Broker], store: Store, engine: Engine
) -> None:
    peer_link, broker = link
    envelopes = arrivals(8)
    for mid, start in enumerate(range(0, 8, 2), start=1):
        deliver(peer_link, mid, pack(envelopes[start : start + 2], SIGNER))
        eventually(lambda mid=mid: len(store.checked) == mid, f"batch {mid} checked")  # type: ignore[misc]
        store.gate.release()
    eventually(lambda: broker.acked == [1, 2, 3, 4], "every batch acknowledged, in order")
    # The stream's seq order held: no message was parked behind a later batch.
    assert [outcomes for outcomes in store.committed] == [[Outcome.APPLIED] * 2] * 4
    assert len(applied_ids(engine)) == 8


def test_a_batch_whose_commit_fails_is_never_acknowledged(
    link: tuple[PeerLink, Broker], store: Store, engine: Engine
) -> None:
    peer_link, broker = link
    envelopes = arrivals(4)
    store.fail = True
    deliver(peer_link, 21, pack(envelopes[:2], SIGNER))
    eventually(lambda: store.checked == [1], "the first batch checked")
    store.gate.release()  # its commit fails: the store has nothing of it
    deliver(peer_link, 22, envelopes[0])  # the broker delivers something else meanwhile
    eventually(lambda: store.checked == [1, 2], "the next batch checked")
    store.gate.release()
    eventually(lambda: broker.acked == [22], "the next batch acknowledged")
    assert 21 not in broker.acked  # the broker still has it, and delivers it again
    deliver(peer_link, 21, pack(envelopes[:2], SIGNER))
    deliver(peer_link, 23, pack(envelopes[2:], SIGNER))
    store.gate.release(2)
    eventually(lambda: sorted(broker.acked) == [21, 22, 23], "all acknowledged at last")
    assert len(applied_ids(engine)) == 4  # each once: the first envelope was a duplicate


def test_the_link_acknowledges_what_the_store_committed_when_it_stops(
    store: Store, engine: Engine
) -> None:
    settings = PeerSettings("hub", "127.0.0.1", 1, Path("ca"), Path("crt"), Path("key"), tls=False)
    peer_link = PeerLink(settings, ENTRY, None, Pipeline(store.check, store.apply))
    broker = Broker()
    peer_link._client = broker  # type: ignore[assignment]
    peer_link._worker.start()
    deliver(peer_link, 31, pack(arrivals(2), SIGNER))
    eventually(lambda: store.checked == [1], "the batch checked")
    store.gate.release()
    peer_link._stop.set()
    peer_link._events.put(("wake",))
    peer_link._worker.join(10)
    assert broker.acked == [31]
    assert len(applied_ids(engine)) == 2


def test_receive_is_check_then_apply(engine: Engine) -> None:
    inbox = entry_inbox(engine, Lookups())
    envelopes = arrivals(3)
    checked = inbox.check([Incoming("hub", TOPIC, pack(envelopes, SIGNER))])
    assert len(checked) == 3
    assert applied_ids(engine) == []  # checking stores nothing
    assert [r.outcome for r in inbox.apply(checked)] == [Outcome.APPLIED] * 3
    replay = inbox.receive([Incoming("hub", TOPIC, envelopes[0])])
    assert [r.outcome for r in replay] == [Outcome.DUPLICATE]


@pytest.mark.parametrize("seals", [(), ({"id": "KZC1234567", "party": "CU"},)])
def test_an_exit_confirmation_is_stored_as_its_model_writes_it(seals: tuple[object, ...]) -> None:
    message = ExitConfirmationMessage.model_validate(
        {
            "record": record(ref="R1", transport={"plate": "777 АВС 02", "nationality": "KZ"}),
            "exited_at": "2026-11-28T08:35:00Z",
            "exit_node": EXIT,
            "seals": seals,
        }
    )  # fmt: skip  (Cyrillic letters in the plate: written as they are, not escaped)
    written = exit_confirmation_json(message, message.record.to_json())
    assert written == message.model_dump_json(exclude_none=True)


def test_the_service_settles_its_heap_before_sync_starts() -> None:
    threshold = gc.get_threshold()
    try:
        settle_heap()
        assert gc.get_threshold()[0] == GC_YOUNG_THRESHOLD
        assert gc.get_freeze_count() > 0  # what was loaded at start is out of the collector's way
    finally:
        gc.unfreeze()
        gc.set_threshold(*threshold)
