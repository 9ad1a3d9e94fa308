"""Scoring use cases: the scorer behind the `score` actor, the sweeper that re-rings lost doorbells, and
scoring on demand (`POST /v1/predict`). Each builds on the store and the pure domain; none learns."""
