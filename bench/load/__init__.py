"""A small load library shared by the benchmark scenarios in `bench/` (each runnable as `python -m bench.<name>`).

One module per job:
- `results`: where results go (`write_results`), what machine measured them (`machine_info`), timestamps.
- `databases`: throwaway migrated databases on SQLite or Postgres (`fresh_database`), settling between phases.
- `services`: the processes a scenario starts: `ApiServer` (`fraudlog serve`), `deployment` (API + workers),
  brokers (`choose_broker`, `purge_broker`), `service_env`, `wait_until`.
- `http`: the load generator: request bodies (`Corpus`, `load_corpus`), `LoadRun`, `run_load`, `timed_load`.
- `cpu`: who used the cores while we measured (`CpuSnapshot`, from /proc).
- `verify`: every acknowledged transaction is in the log where its receipt said (`verify_acknowledged`).
- `baselines`: the database's own insert rate without HTTP, checked against what the store writes.
- `timing`: medians and one timed run (`median`, `run_once`, `summary`).
- `tables`: printing result tables.
- `profile`: py-spy of a process during a load.
"""
