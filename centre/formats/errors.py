"""What a CIS file reader says about bad input: a record refused whole (`FormatReject`, the
others of the file still taken) or a file that cannot be read at all (`FormatError`)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class FormatReject:
    """One message (EDIFACT) or declaration (XML) of a file, refused whole, with its reasons.

    `index` is the 1-based position of the message or declaration in the file; `ref` is the
    record's reference when it could be read, so that the CIS can find what to resend."""

    index: int
    ref: str | None
    reasons: list[str] = field(default_factory=list)
    kind: str = "message"

    def __str__(self) -> str:
        ref = f" (ref {self.ref})" if self.ref else ""
        return f"{self.kind} {self.index}{ref}: {'; '.join(self.reasons)}"


class FormatError(ValueError):
    """A file that is not a readable interchange or document at all: nothing of it is taken.
    The message names the file and the position (segment number, line) and what was expected."""
