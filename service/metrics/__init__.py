"""Prometheus metrics with `prometheus_client`: what the database says, and what each process observes.

- `database`: a custom collector for the figures read from the database (counts, backlog, alerts, model
  quality). Every process that asks gets the same answer.
- `latency`: the event-to-prediction and recorded-to-prediction histograms, counted by the database a slice
  at a time, whichever process on whichever host scored.
- `stats_cache`: the figures read at most once a second per process, for `/v1/stats` and `/metrics`.
- `multiprocess`: prometheus_client's multiprocess directory for API processes started together.

The API renders `/metrics` (`fraudlog.api.prometheus`: these collectors, the process metrics and the request
duration histogram of `fraudlog.api.request_metrics`).
"""
