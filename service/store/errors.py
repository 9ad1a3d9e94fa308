"""The store's own errors, so callers never catch driver exceptions."""

from __future__ import annotations


class StoreError(Exception):
    """Base class for failures of the store."""


class StoreUnavailable(StoreError):
    """The database could not be reached or timed out; the caller may retry."""


class AppendOnlyViolation(StoreError):
    """Something tried to change or remove a row of an append-only table."""
