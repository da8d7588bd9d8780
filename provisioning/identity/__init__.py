"""Node keys, certificates, the fleet CA and the trust store.

Each node has one Ed25519 key: it signs the node's envelopes and is its TLS key, in a certificate
from its country's fleet CA (Ed25519 works for mutual TLS 1.2/1.3 in OpenSSL 3: Python's ssl and
mosquitto; see `ca`). `node_id` names nodes, `keys` and `files` keep keys, `csr` and `ca` make
certificates, `profile` says what a certificate names, `trust` decides whom to believe, and
`errors` says why not.
"""
