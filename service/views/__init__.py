"""Read models: what the API and the CLI show, composed from store records (and replay, for the audit).

Each view returns msgspec Structs, the typed contract of a response body (defined in `fraudlog.responses`, which
the Python client imports without the server), built from plain inputs (the engine, the registry, records the
store returned); none knows the web framework. The store below never
builds these documents and never imports replay.

- `transaction`: one transaction with its predictions, label, alert and (given the registry) its audit.
- `audit`: each prediction's lineage and whether replay reproduces it.
- `models`: the registry's versions, summarised and in full lineage.
- `alerts`: pages of the alerts outbox.
- `stats`: the operational figures.
"""
