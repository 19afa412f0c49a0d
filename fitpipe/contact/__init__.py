"""Emailing participants about their adherence: templates per reason, an SMTP mailer, the contacts log."""
