"""The agents' console (issue 14): a web frontend on Atiende's public HTTP API. See app.py."""
