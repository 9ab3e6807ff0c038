"""Signed Merkle checkpoints over each producer's chain (pure): the checkpoint body, its rows,
verification, trust in signers and diagnosis of what a broken seal means."""
