"""The simulated estate for demos and tests: usage generator, sample data, (later) CRM sandbox."""
