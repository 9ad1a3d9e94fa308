"""The prediction feed: predictions in log order, delivered only where the log is final (invariant 11)."""
