"""Applying a file bundle (`sync.bundle`) through the inbox, and what truly came of it.

The summary tells the truth about the bundle as a whole: a message parked ahead of a gap that a
later line of the same bundle filled counts as applied (a reversed bundle is all applied), a
line that is not a message is quarantined with its reason and the rest applied, and a bundle
with fewer lines than its header promises is reported cut.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sync.bundle import BadLine, read_header, read_lines
from sync.inbox import Inbox, Incoming, Outcome, Result

BATCH = 500  # messages a transaction
# Parked ids followed to the end of an import, to count those a later line released: enough for
# any bundle a post sends (a day of a busy post is some thousands), and a bound on memory
# whatever a header promises; beyond it the outcome is not followed, and the report says so.
FOLLOWED_PARKED = 100_000
RELEASE_CHECK = 1_000
BAD_LINE = "bad_bundle_line"  # the quarantine's reason for a line that is not a message


@dataclass
class BundleImport:
    path: Path
    promised: int  # messages the header announces
    lines: int = 0  # message lines found (good or bad)
    counts: dict[Outcome, int] = field(default_factory=lambda: dict.fromkeys(Outcome, 0))
    reasons: dict[str, int] = field(default_factory=dict)  # quarantined, by reason
    unfollowed: int = 0  # parked beyond FOLLOWED_PARKED: their release is not counted here

    @property
    def cut(self) -> bool:
        return self.lines < self.promised

    @property
    def complete(self) -> bool:
        """Every promised message arrived and none was refused."""
        return self.lines == self.promised and not self.counts[Outcome.QUARANTINED]

    def problems(self) -> list[str]:
        out = []
        if self.cut:
            out.append(
                f"{self.path}: cut short: its header promises {self.promised} messages,"
                f" {self.lines} found"
            )
        elif self.lines > self.promised:
            out.append(
                f"{self.path}: {self.lines} messages where its header promises {self.promised}"
            )
        if self.unfollowed:
            out.append(
                f"{self.path}: {self.unfollowed} parked messages beyond the first "
                f"{FOLLOWED_PARKED:,} were not followed; `sync status` shows what still waits"
            )
        return out

    def summary(self) -> str:
        return ", ".join(f"{n} {outcome.value}" for outcome, n in self.counts.items())


def import_bundle(inbox: Inbox, path: Path, batch: int = BATCH) -> BundleImport:
    """Apply every message of the bundle at `path` (each once); what came of them. Raises
    BundleError when the file is not a bundle, OSError when it cannot be read."""
    with path.open("rb") as stream:
        report = BundleImport(path, read_header(stream, path).messages)
        pending: list[Incoming] = []
        parked: list[str] = []
        check_at = RELEASE_CHECK  # followed ids that make it worth asking which were released
        for line in read_lines(stream, path):
            report.lines += 1
            if isinstance(line.message, BadLine):
                bad = Incoming(f"bundle:{path.name}", "bundle/bad-line", line.message.head)
                _tally(report, [inbox.quarantine_input(bad, BAD_LINE, line.message.detail)], parked)
                continue
            pending.append(line.message)
            if len(pending) >= batch:
                _tally(report, inbox.receive(pending), parked)
                pending = []
                if len(parked) >= check_at:  # doubling: each id is looked up O(1) times
                    parked = _released(inbox, report, parked)
                    check_at = max(RELEASE_CHECK, 2 * len(parked))
        if pending:
            _tally(report, inbox.receive(pending), parked)
        _released(inbox, report, parked)
    return report


def _released(inbox: Inbox, report: BundleImport, parked: list[str]) -> list[str]:
    """Parked ahead of a gap that a later line filled: applied after all. The ids still
    parked, so that an ordered bundle follows few at a time."""
    if not parked:
        return parked
    applied = inbox.applied_among(parked)
    report.counts[Outcome.PARKED] -= len(applied)
    report.counts[Outcome.APPLIED] += len(applied)
    return [message_id for message_id in parked if message_id not in applied]


def _tally(report: BundleImport, results: Sequence[Result], parked: list[str]) -> None:
    for result in results:
        report.counts[result.outcome] += 1
        if result.outcome is Outcome.PARKED and result.message_id is not None:
            if len(parked) < FOLLOWED_PARKED:
                parked.append(result.message_id)
            else:
                report.unfollowed += 1
        if result.outcome is Outcome.QUARANTINED:
            reason = result.reason or "unknown"
            report.reasons[reason] = report.reasons.get(reason, 0) + 1
