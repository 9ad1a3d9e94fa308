"""Persistence: every SQL statement of fraudlog lives in this package (and the migrations).

- `tables`: the schema, in SQLAlchemy Core. `events` is the source of truth; the rest are projections.
- `event_log`: appending units, reading by position, the chunked `walk` of the log, last position, counts.
- `labels`: the latest label per transaction (`latest_labels`) and its projection; `history`: the card history
  features need; `roles`: promotion and retirement events as role changes; `predictions`, `outbox`, `registry`
  (immutable model versions), `stats`: one module per table or question.
- `snapshot`: the read-only, consistent connection replay and rebuild read on; `engine`: engines and write
  transactions; `migrate`: alembic from code. (Group commit, many requests' appends in one commit, is the
  ingest use case's: `service.ingest.group_commit`.)
- `dialect`: the one place where Postgres and SQLite differ; no other module branches on the backend.
- `errors`: the store's own errors, and the one mapping from driver errors to them (`driver_errors`).

Nothing here imports from above the store (replay, scoring, ingest, API, workers; `lint-imports` checks it):
the event vocabulary and the parsing of control events come from `service.domain`.
"""
