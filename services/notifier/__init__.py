"""notifier: e-mail (aiosmtplib), SMS (twilio, later) and in-app notifications. Owns the
recipients' copy of each case it must write about and one delivery row per (event, channel,
recipient), the guard that keeps a message from being sent twice."""
