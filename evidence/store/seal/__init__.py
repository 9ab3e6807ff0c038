"""Checkpoints in the evidence store: schema, the sealing Checkpointer, signing keys, proofs."""
