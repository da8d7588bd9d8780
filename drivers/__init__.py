"""Devices that turn bytes and frames into typed readings: scanners, document readers, e-seal
readers, cameras and plate recognition. Drivers know nothing of manifests or sync."""
