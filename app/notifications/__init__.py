"""Telling people outside the API: e-mail over SMTP and partners' signed webhooks.

What is said and to whom is the domain's (`app.domain.notifications`, `app.domain.reminders`);
this package renders it, checks where it may go and sends it.
"""
