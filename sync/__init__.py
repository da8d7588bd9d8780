"""Signed envelopes, the durable outbox and inbox, the MQTT transport, the topic contract and
file bundles: how the box exchanges records with the national system and the partner post."""
