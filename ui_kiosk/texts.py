"""The kiosk's words for the core's codes: discrepancies, lanes, decisions, reasons, roles.

Each is an English msgid marked with `N_` so that extraction finds it; the templates look it up
in the officer's language. A code without words here shows as the code itself.
"""

from __future__ import annotations

from collections.abc import Callable

from edge.decisions import DecisionKind, ReasonCode
from edge.discrepancies import DiscrepancyCode
from edge.officers import Role
from edge.readings import Health
from edge.risk import MatchDoubt, RiskLane
from edge.risk_profiles.inspection import Finding

Gettext = Callable[[str], str]


def N_(message: str) -> str:  # noqa: N802 (the gettext convention)
    """Marks a msgid for extraction; translated where it is shown."""
    return message


D = DiscrepancyCode
DISCREPANCIES: dict[str, str] = {
    D.NO_PRE_ARRIVAL: N_("No pre-arrival record fits this truck."),
    D.PLATE_APPROXIMATE: N_("The plate was read as %(observed)s; the record has %(expected)s."),
    D.TRAILER_MISMATCH: N_("Trailer %(observed)s is not on the record (it lists: %(expected)s)."),
    D.SEAL_MISSING: N_("Seal %(expected)s of the record was not found on the truck."),
    D.SEAL_UNEXPECTED: N_("Seal %(observed)s is on the truck but not on the record."),
    D.DRIVER_DOCUMENT_MISMATCH: N_(
        "The driver's document %(observed)s is not the one on the record (%(expected)s)."
    ),
    D.TRANSIT_DOCUMENT_MISMATCH: N_(
        "Transit document %(observed)s is not this record's (%(expected)s)."
    ),
    D.OUTSIDE_ARRIVAL_WINDOW: N_("The truck is outside its arrival window: expected %(expected)s."),
}

DOUBTS: dict[str, str] = {
    MatchDoubt.LOW_SCORE: N_("The best record fits this truck only in part."),
    MatchDoubt.AMBIGUOUS: N_("Two records fit almost equally: check which one is right."),
    MatchDoubt.MANUAL_MATCH: N_("The record was attached by hand."),
}

LANES: dict[str, str] = {
    RiskLane.GREEN: N_("Green"),
    RiskLane.YELLOW: N_("Yellow"),
    RiskLane.RED: N_("Red"),
}

DECISIONS: dict[str, str] = {
    DecisionKind.RELEASE: N_("Release"),
    DecisionKind.DOCUMENTARY_CHECK: N_("Documentary check"),
    DecisionKind.PHYSICAL_INSPECTION: N_("Physical inspection"),
    DecisionKind.REFUSE: N_("Refuse entry"),
    DecisionKind.REOPEN: N_("Reopened"),
}

R = ReasonCode
REASONS: dict[str, str] = {
    R.DOCUMENTS_IN_ORDER: N_("Documents and seals in order"),
    R.DISCREPANCY_EXPLAINED: N_("Discrepancy checked and explained"),
    R.LANE_REQUIRES_CHECK: N_("The lane requires this check"),
    R.DOCUMENTS_INCOMPLETE: N_("Documents incomplete or unclear"),
    R.DISCREPANCY_TO_CLARIFY: N_("Discrepancy to clarify"),
    R.SEAL_PROBLEM: N_("Seal missing, broken or not on the record"),
    R.RISK_INDICATOR: N_("Risk indicator"),
    R.RANDOM_SELECTION: N_("Random selection"),
    R.NO_VALID_DOCUMENTS: N_("No valid transit documents"),
    R.PROHIBITED_GOODS: N_("Prohibited or restricted goods"),
    R.DRIVER_NOT_ADMISSIBLE: N_("Driver not admissible"),
    R.VEHICLE_NOT_ADMISSIBLE: N_("Vehicle not admissible"),
    R.DECISION_ERROR: N_("The decision was wrong"),
    R.NEW_INFORMATION: N_("New information"),
}

ROLES: dict[str, str] = {
    Role.OFFICER: N_("Officer"),
    Role.SUPERVISOR: N_("Supervisor"),
    Role.TECHNICIAN: N_("Technician"),
}

HEALTH: dict[str, str] = {
    Health.CONNECTED: N_("Connected"),
    Health.DEGRADED: N_("Degraded"),
    Health.DISCONNECTED: N_("Disconnected"),
}

# What a reading is about (ReadingView.what): a scanned code says what it holds.
READING_KINDS: dict[str, str] = {
    "plate": N_("Plate"),
    "seal": N_("Seal"),
    "document": N_("Document"),
    "transit": N_("Transit document"),
    "container": N_("Container"),
    "code": N_("Code"),
    "presence": N_("Vehicle"),
}

READING_STATES: dict[str, str] = {
    "sealed": N_("sealed"),
    "opened": N_("opened"),
    "tampered": N_("tampered"),
    "valid": N_("checks passed"),
    "not_verified": N_("check digits not verified"),
    "invalid": N_("checks failed"),
    "present": N_("in view"),
    "left": N_("left the view"),
}

REOPEN_KIND = DecisionKind.REOPEN

FINDINGS: dict[str, str] = {
    Finding.UNDECLARED_GOODS: N_("Undeclared goods"),
    Finding.QUANTITY: N_("Quantity not as declared"),
    Finding.SEAL: N_("Seal problem"),
    Finding.DOCUMENT: N_("Document problem"),
    Finding.OTHER: N_("Other"),
}

SCANNED: dict[str, str] = {
    "document": N_("Document read: %(value)s"),
    "seal": N_("Seal read: %(value)s"),
    "reference": N_("Transit document read: %(value)s"),
    "container": N_("Container read: %(value)s"),
    "code": N_("Code read: %(value)s"),
}

ERRORS: dict[str, str] = {
    "not_allowed": N_("Your role may not do this."),
    "needs_supervisor": N_(
        "This lane needs at least: %(minimum)s. Only a supervisor may decide less."
    ),
    "not_found": N_("There is no such truck or record."),
    "not_awaiting": N_("This truck does not await a decision."),
    "invalid": N_("This does not fit: check the form and try again."),
    "csrf": N_("The form has expired. Open the page again and repeat."),
}

DONE: dict[str, str] = {
    "decided": N_("Decision stored."),
    "reopened": N_("Reopened: the truck awaits a decision again."),
    "attached": N_("Record attached by hand."),
    "opened": N_("Truck opened by hand."),
    "language": N_("Language changed."),
    "inspected": N_("Inspection result stored."),
}


def phrase(gettext: Gettext, table: dict[str, str], code: str, **values: object) -> str:
    """The translated words for `code`, with `values` filled in; the code when it has none."""
    message = table.get(code)
    if message is None:
        return code
    filled = {k: "—" if v is None or v == "" else v for k, v in values.items()}
    try:
        return gettext(message) % filled
    except (KeyError, TypeError, ValueError):  # a translation that lost a placeholder
        return message % filled
