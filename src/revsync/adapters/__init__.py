"""Adapters: the concrete implementations of the ports (database, messaging, connectors)."""
