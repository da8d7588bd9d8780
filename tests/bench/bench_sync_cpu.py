"""CPU per message of each stage of the sync path, in one process, without a broker: what issue
4's throughput is made of, measured as CPU time (`time.process_time`), which a loaded box
disturbs far less than wall-clock throughput.

- writer:  `Outbox.send_many`, 500 to a transaction (signing, canonical JSON, the commit);
- sender:  `Outbox.take`, `frame.group`, `frame.pack`, `Outbox.acknowledged` (no MQTT);
- check:   `Inbox.check` of the frames (the frame's signature, every envelope's content);
- apply:   `Inbox.apply` in transactions of `--batch` envelopes (effects, dedupe, acks queued);
- acks:    the receiver's acks taken, framed and applied at the sender (`Outbox.delivered`).

Real signed frames, real SQLite files, the messages of `bench_sync` (arrivals and exit
confirmations). `--profile STAGE` prints cProfile's top functions for that stage.

    .venv/bin/python -m tests.bench.bench_sync_cpu [--messages N] [--batch N] [--profile STAGE]
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import json
import pstats
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from edge.manifest_cache import ManifestCache
from edge.store import open_database
from provisioning.identity.fleet import make_fleet
from provisioning.identity.trust import TrustStore
from sync.apply import acknowledger, appliers
from sync.frame import group, pack
from sync.inbox import Inbox, Incoming, Outcome
from sync.outbox import Outbox, Route, Signer
from sync.setup import key_lookup
from tests.chaos.harness import payloads
from tests.sync.crossing import ENTRY, EXIT

STAGES = ("writer", "sender", "check", "apply", "acks")
_T = TypeVar("_T")


def run(messages: int, batch: int, profile: str | None) -> dict[str, object]:
    gc.set_threshold(20_000, 50, 100)  # as the service runs (edge.service.settle_heap)
    profiler = cProfile.Profile()
    cpu: dict[str, float] = {}

    def timed(stage: str, work: Callable[[], _T]) -> _T:
        if stage == profile:
            profiler.enable()
        start = time.process_time()
        result = work()
        cpu[stage] = round((time.process_time() - start) / messages * 1e6, 1)
        if stage == profile:
            profiler.disable()
        return result

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        fleet = make_fleet(root / "fleet", [EXIT, ENTRY])
        trust = TrustStore.load(fleet.trust_store)
        sender_db, receiver_db = open_database(root / "exit"), open_database(root / "entry")
        signer, receiver_signer = (Signer.load(fleet.nodes[n], n) for n in (EXIT, ENTRY))
        # No flow control: every message is taken at once, as the broker would take them.
        outbox = Outbox(sender_db, signer, [Route("*", "hub")], max_unconfirmed=10**9)
        receiver_outbox = Outbox(
            receiver_db, receiver_signer, [Route("*", "hub")], max_unconfirmed=10**9
        )
        cache = ManifestCache(receiver_db)
        inbox = Inbox(receiver_db, ENTRY, key_lookup(trust), appliers(cache, receiver_outbox),
                      on_failed_transaction=cache.forget_index,
                      acknowledge=acknowledger(receiver_outbox))  # fmt: skip
        sender_inbox = Inbox(sender_db, EXIT, key_lookup(trust),
                             appliers(ManifestCache(sender_db), outbox))  # fmt: skip
        items = payloads(0, messages)

        def write() -> None:
            for start in range(0, messages, 500):
                outbox.send_many(items[start : start + 500])

        def send() -> list[Incoming]:
            taken = outbox.take("hub", messages)
            frames = [
                Incoming("hub", frame[0].topic, pack([m.envelope for m in frame], signer))
                for frame in group(taken)
            ]
            outbox.acknowledged([m.id for m in taken])
            return frames

        timed("writer", write)
        frames = timed("sender", send)
        batches: list[list[Incoming]] = [[]]
        for frame in frames:
            if sum(item.data.count(b"\n") + 1 for item in batches[-1]) >= batch:
                batches.append([])
            batches[-1].append(frame)
        checked = timed("check", lambda: [inbox.check(b) for b in batches])
        results = timed("apply", lambda: [r for c in checked for r in inbox.apply(c)])
        if len(results) != messages or any(r.outcome is not Outcome.APPLIED for r in results):
            raise AssertionError("not every message was applied once")

        def acks() -> None:
            taken = receiver_outbox.take("hub", messages)
            sender_inbox.receive(
                [
                    Incoming("hub", f[0].topic, pack([m.envelope for m in f], receiver_signer))
                    for f in group(taken)
                ]
            )

        timed("acks", acks)
    if profile:
        pstats.Stats(profiler, stream=sys.stderr).sort_stats("tottime").print_stats(30)
    return {"benchmark": "sync_cpu", "messages": messages, "batch": batch, "cpu_us_per_msg": cpu}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--profile", choices=STAGES)
    args = parser.parse_args(argv)
    print(json.dumps(run(args.messages, args.batch, args.profile)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
