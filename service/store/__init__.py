"""Persistence: every SQL statement of fraudlog lives in this package (and the migrations).

- `tables`: the schema, in SQLAlchemy Core, and how JSON columns are read. `events` is the source of truth; the
  rest are projections.
- `event_log`: appending units, reading by position, the chunked `walk` of the log, last position, counts.
- `labels`: the latest label per transaction (`latest_labels`) and its projection; `history`: the card history
  features need; `roles`: promotion and retirement events as role changes; `predictions`, `outbox`, `versions`
  (immutable model versions), `role_table`, `stats`: one module per table or question.
- `snapshot`: the read-only, consistent connection replay and rebuild read on; `engine`: engines and write
  transactions; `migrate`: alembic from code. (Group commit, many requests' appends in one commit, is the
  ingest use case's: `fraudlog.ingest.group_commit`.)
- `recorders`: what the store needs of a backend, as small protocols (the log's appends, a scoring batch's read
  and write, bulk inserts, snapshots, deployment locks, SQL each spells its own way); `postgres` and `sqlite`
  implement them all, and `backend.backend_for` picks one by the database: the only place the backends differ.
  `statements`: questions of the log both backends ask, defined once. `bulk_load`: a rebuild's copy and what
  follows a bulk load; `locks`: one holder per deployment.
- `errors`: the store's own errors, and the one mapping from driver errors to them (`driver_errors`).

Nothing here imports from above the store (replay, scoring, ingest, API, workers; `lint-imports` checks it):
the event vocabulary and the parsing of control events come from `fraudlog.domain`.
"""
