"""The detection rules and engine before the incremental rewrite, kept as a test oracle."""
