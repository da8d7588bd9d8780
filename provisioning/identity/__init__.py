"""Node keys, certificates, the fleet CA and the trust store."""
