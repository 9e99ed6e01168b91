"""reporting: read models built from events only (never from other services' tables), and
the reports and exports reporting consumers ask for."""
