"""intake: the public API that frontends and integrations call. Owns tenants, the catalog
(case types for now), cases as entered, and idempotency keys. Publishes case.created; keeps the
deadline workflow computed (case.deadline_set) so GET /cases/{id} can show it."""
