"""Prometheus metrics with `prometheus_client`: what the database says, and what each process observes.

- `database`: a custom collector for the figures read from the database (counts, backlog, alerts, model
  quality). Every process that asks gets the same answer.
- `latency`: the event-to-prediction and recorded-to-prediction histograms, counted by the database a slice
  at a time, whichever process on whichever host scored.
- `http`: the API's request duration histogram, observed where requests are answered.
- `exposition`: `/metrics`, the two put together (plus the process metrics and anything other modules
  registered in prometheus_client's default registry).
"""
