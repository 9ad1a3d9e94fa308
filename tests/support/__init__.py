"""Helpers that tests share: real servers and clients, never mocks of our own code.

Test modules import helpers only from here (and take fixtures from conftest.py), never from each other:

- `services`: where Postgres, RabbitMQ and Redis listen; `require_service`; `throwaway_pg_database`.
- `data`: the sample CSV's path; request bodies and log events (`transaction_body`, `transaction_event`,
  `transaction_event_from_body`, `label_event`); the one helper module naming the event vocabulary.
- `event_log`: appending rows' transactions and labels through the store (`append_transactions`, `append_labels`).
- `models`: small trained model versions (`install_version`), synthetic rows to score (`synthetic_rows`).
- `api`: the API app under test (`build_app`), in-process (`api_client`) or served on a port (`served_api`).
- `workload`: a realistic scored history for replay and rebuild tests (`build_workload`).
- `processes`: real worker processes (`worker`, `start_worker`, `kill`, `service_env`) and `wait_until`.
- `receiver`: a real webhook receiver that verifies signatures and deduplicates on Idempotency-Key.
"""
