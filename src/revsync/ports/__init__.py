"""Ports: the Protocols the application needs from the outside world.

Adapters implement them; tests use the real adapters (SQLite / PostgreSQL) or fakes that
implement the same Protocols.
"""
