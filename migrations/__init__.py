"""Alembic migrations; `fraudlog db upgrade` applies them (see service/store/migrate.py)."""
