"""The node's transparency log, foundation only: RFC 9162 Merkle tree hashing and proofs, C2SP
signed notes, tlog-checkpoints and tlog-cosignatures. Pure functions over bytes and a small
hash-store protocol; storage, sync and alerts are wired in later."""
