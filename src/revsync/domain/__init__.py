"""The pure model of revsync: money, usage, identity, metering, audit.

Imports the standard library only (enforced by tests/test_layers.py).
"""
