"""Watching the models once they serve: quality over time (`quality`) and drift (`drift*`), from the log.

Pure computations over rows the store reads: no SQLAlchemy, Litestar or Dramatiq here, so that replaying the
log (which rebuilds the rows) reproduces every figure.
"""
