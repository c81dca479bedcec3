"""Process layer: commands, handlers and queries that orchestrate the domain through ports."""
