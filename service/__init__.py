"""fraudlog: streaming fraud scoring on an append-only event log."""

from importlib.metadata import PackageNotFoundError, version

try:
    # The installed distribution's version, so `fraudlog --version`, `/health` and model lineage can never
    # disagree with what pip installed.
    __version__ = version("fraudlog")
except PackageNotFoundError:  # run from a source tree that was never installed
    __version__ = "0+unknown"
