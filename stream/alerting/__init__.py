"""The detection shell (pure rules over each stored batch, state kept in the evidence store)
and the signed, durable webhook delivery of its alerts."""
