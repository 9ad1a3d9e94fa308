"""Test helpers: real servers and receivers run on loopback."""
