"""Support tools revsync works with (ports/support.py): Zendesk's Support API."""
