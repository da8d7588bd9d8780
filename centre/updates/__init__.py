"""Signed updates from the centre: the TUF repository that signs what boxes may install
(targets, snapshot, timestamp, root rotation), the endpoints that serve it to the boxes, and
the phased rollouts that tell boxes to install it."""
