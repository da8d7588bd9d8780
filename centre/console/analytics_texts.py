"""The analytics' texts (`centre.analytics`: its tables' titles and columns, the figures SIE and
CIE are compared on, the PDF report's words), marked here for the console's catalog extractor,
which reads the console's package only (`python -m centre.console.catalogs extract`).
tests/centre/analytics/test_texts.py keeps this list and the analytics' texts the same."""

from __future__ import annotations

from centre.console.i18n import N_

TEXTS = (
    N_("Trucks"),
    N_("Pre-arrival %"),
    N_("Matched %"),
    N_("Ambiguous %"),
    N_("Other record chosen %"),
    N_("With discrepancies %"),
    N_("Decided"),
    N_("To decision, median (s)"),
    N_("To decision, p90 (s)"),
    N_("Inspections"),
    N_("Inspected %"),
    N_("Inspection hit rate %"),
    N_("Exit confirmations"),
    N_("Exit confirmation before arrival, median (h)"),
    N_("Posts"),
    N_("Post"),
    N_("Link"),
    N_("Mode"),
    N_("Partner links"),
    N_("Per day and lane"),
    N_("Day"),
    N_("Lane"),
    N_("Per lane"),
    N_("Discrepancies by code"),
    N_("Discrepancy"),
    N_("Of all trucks %"),
    N_("SIE against CIE"),
    N_("Figure"),
    N_("SIE (mean per day)"),
    N_("SIE days"),
    N_("CIE (mean per day)"),
    N_("CIE days"),
    N_("Difference (CIE − SIE)"),
    N_("Low end (95%)"),
    N_("High end (95%)"),
    N_("Trucks a day"),
    N_("Pre-arrival coverage %"),
    N_("Arrival to decision, median (s)"),
    N_("Arrival to decision, p90 (s)"),
    N_("Analytics report"),
    N_("Generated"),
    N_("The period in figures"),
    N_("no data"),
    N_("No trucks in this period."),
    N_("green"),
    N_("yellow"),
    N_("red"),
    N_(
        "Empty cells: no data. Inspection hit rates need inspection results, which the boxes do "
        "not send yet; ambiguity needs the boxes to report it. Times are UTC."
    ),
)
