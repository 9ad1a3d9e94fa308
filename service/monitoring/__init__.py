"""Watching the served model: drift detection on the log (`drift`, `drift_job`)."""
