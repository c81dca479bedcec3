"""The versioned HTTP API (``/v1``), built with FastAPI."""
