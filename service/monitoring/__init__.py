"""Watching the models once they serve, from the log: quality over time (`quality`, a pure computation over
stored predictions and labels), the drift detectors (`drift`, pure: a Mann-Whitney test on fraud ranks and PSI) and the
drift watch (`drift_job`), the use case that feeds the detectors in log order, records each detection as an
event and retrains on it. Replaying the log reproduces every figure and every detection."""
