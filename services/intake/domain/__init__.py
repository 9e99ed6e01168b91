"""intake's domain: pure rules, no I/O — lifecycle (R4.6), access (R4.4, R2.7), triage (R3.4,
R3.5), hierarchy (R2.2–R2.6), catalog rules (R3.2, R4.2), parties and national ids (R2.1),
numbering. Use cases call them on rows they have loaded and locked."""
