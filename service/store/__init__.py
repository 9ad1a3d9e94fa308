"""Persistence: tables, the event log, projections, the outbox and the model registry.

Dialect differences between SQLite and Postgres live in `engine.py` and nowhere else.
"""
