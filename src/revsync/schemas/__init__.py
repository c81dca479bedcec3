"""Versioned wire contracts: how revsync reads and writes its inputs and outputs."""
