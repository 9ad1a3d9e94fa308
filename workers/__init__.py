"""Dramatiq workers: the broker from FRAUDLOG_BROKER_URL, the actors, the doorbell and the scheduler."""
