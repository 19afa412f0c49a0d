"""Signing in to the dashboard: nothing is served without a signed-in person, who acts on the API with their
own session token (their role, their studies, audited under them). See install() in views.py."""

from fitpipe_dashboard.auth.person import NotAllowed, Person, current_person, require_contact
from fitpipe_dashboard.auth.views import install

__all__ = ["install", "Person", "current_person", "require_contact", "NotAllowed"]
