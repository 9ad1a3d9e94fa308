"""Logging setup for every fraudlog process (to be built: issue 7)."""

from __future__ import annotations

import logging


def configure_logging(level: str = "INFO") -> None:
    logging.basicConfig(level=level)
