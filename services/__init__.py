"""The four Atiende services. Each has the same shape: api.py (HTTP), domain.py (pure rules),
adapters/ (db tables, SMTP...), handlers.py (event handlers), bootstrap.py (wiring), migrations/."""
