"""Signed A/B updates of the box's image: the slots and boot counting behind RAUC, the TUF
client that fetches and verifies a bundle, the self-test that marks a new slot good, and the
update state the box reports to its centre."""
