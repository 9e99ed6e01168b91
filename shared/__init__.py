"""Atiende's own library, shared by the four services: settings, event contracts, messaging
(outbox, inbox, buses), timers, database helpers, logging, problem details and the service
runtime. A service imports from here and never from another service."""
