"""Emulators that speak the same bytes as the real devices, on real ptys, for tests and demos."""
