"""The operations console: server-rendered pages under ``/console/``, signed in with an API
key (docs/console.md)."""
