"""Test support: a frozen clock, databases from migrated templates, event builders."""
