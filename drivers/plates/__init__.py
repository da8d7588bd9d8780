"""Plate recognition: text detection, plate regions, the text readers and their ranking."""
