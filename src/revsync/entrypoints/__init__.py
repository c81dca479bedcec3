"""Experience layer: the HTTP API, the CLI, workers."""
