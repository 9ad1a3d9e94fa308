"""Helpers that tests share: real servers and clients, never mocks of our own code."""
