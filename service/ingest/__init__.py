"""Ingest: validated transactions and labels into the log, many concurrent requests in one durable commit.

- `appending`: the events a batch of validated items becomes, and `Ingest`, which appends them.
- `group_commit`: the one writer thread that commits many requests' units together.
"""
