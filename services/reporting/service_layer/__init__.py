"""reporting's use cases (rebuilding the read models from the event log)."""
