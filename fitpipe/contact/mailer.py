"""Sending email over SMTP with the MAIL_* settings (plain, STARTTLS or implicit TLS, optional login), with a
timeout; every failure becomes a DeliveryError whose text names no address, user name or password.
"""

from __future__ import annotations

import re
import smtplib
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from fitpipe.contact.templates import Message
from fitpipe.errors import ConfigError, FitpipeError
from fitpipe.settings import Settings

__all__ = ["Mailer", "MailSession", "DeliveryError", "scrub"]

DEFAULT_TIMEOUT = 10.0
_ADDRESS = re.compile(r"[^\s<>()\[\],;:\"']+@[^\s<>()\[\],;:\"']+")


class DeliveryError(FitpipeError):
    """The mail server could not be reached or did not accept a message (text safe to log and store)."""


def _text(reply: bytes | str) -> str:
    return reply.decode(errors="replace") if isinstance(reply, bytes) else reply


def scrub(text: str, *secrets: str | None) -> str:
    """Text with email addresses and the given secrets replaced, for logs, answers and the contacts table."""
    text = _ADDRESS.sub("<address>", text)
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


class MailSession:
    """An open SMTP connection; send() one message after another over it."""

    def __init__(self, smtp: smtplib.SMTP, sender: str, mailer: Mailer) -> None:
        self._smtp = smtp
        self._sender = sender
        self._mailer = mailer

    def send(self, message: Message) -> None:
        try:
            email = EmailMessage()
            email["From"] = self._sender
            email["To"] = message.to
            email["Subject"] = message.subject
            email["Date"] = formatdate(localtime=False)
            email["Message-ID"] = make_msgid(domain=self._sender.rpartition("@")[2] or None)
            email["X-Fitpipe-Reason"] = ",".join(message.reasons)
            email.set_content(message.body)
            self._smtp.send_message(email)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = sorted({f"{code} {_text(resp)}" for code, resp in exc.recipients.values()})
            raise self._mailer.error("the mail server refused the recipient: " + "; ".join(codes)) from None
        except smtplib.SMTPResponseException as exc:
            raise self._mailer.error(
                f"the mail server answered {exc.smtp_code} {_text(exc.smtp_error)}"
            ) from None
        except (smtplib.SMTPException, OSError) as exc:
            raise self._mailer.error(f"sending failed: {type(exc).__name__}: {exc}") from None
        except (ValueError, UnicodeError) as exc:  # an address the email package or the server cannot take
            raise self._mailer.error(
                f"the message could not be sent as written: {type(exc).__name__}: {exc}"
            ) from None


class Mailer:
    """SMTP delivery configured from Settings (MAIL_SERVER, MAIL_PORT, MAIL_USERNAME, MAIL_PASSWORD,
    MAIL_FROM, MAIL_STARTTLS, MAIL_SSL_TLS)."""

    def __init__(self, settings: Settings, timeout: float = DEFAULT_TIMEOUT) -> None:
        if settings.mail_starttls and settings.mail_ssl_tls:
            raise ConfigError(
                "MAIL_STARTTLS and MAIL_SSL_TLS are both set",
                hint="set MAIL_SSL_TLS for implicit TLS (usually port 465) or MAIL_STARTTLS (usually 587), not both",
            )
        self.server = settings.mail_server
        self.port = settings.mail_port
        self.sender = settings.mail_from
        self.starttls = settings.mail_starttls
        self.ssl_tls = settings.mail_ssl_tls
        self.username = settings.mail_username
        self._password = settings.mail_password.get_secret_value() if settings.mail_password else None
        self.timeout = timeout

    @property
    def where(self) -> str:
        return f"{self.server}:{self.port}"

    def error(self, text: str) -> DeliveryError:
        return DeliveryError(
            scrub(text, self._password, self.username),
            hint=f"check the mail server at {self.where} and the MAIL_* settings",
        )

    @contextmanager
    def session(self) -> Iterator[MailSession]:
        """Connect (and log in) once; raises DeliveryError when the server cannot be reached or refuses."""
        context = ssl.create_default_context()
        try:
            if self.ssl_tls:
                smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                    self.server, self.port, timeout=self.timeout, context=context
                )
            else:
                smtp = smtplib.SMTP(self.server, self.port, timeout=self.timeout)
        except TimeoutError:
            raise self.error(f"cannot connect to {self.where}: no answer within {self.timeout:g} s") from None
        except (OSError, smtplib.SMTPException) as exc:
            reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
            raise self.error(f"cannot connect to {self.where}: {reason}") from None
        try:
            try:
                if self.starttls:
                    smtp.starttls(context=context)
                if self.username:
                    smtp.login(self.username, self._password or "")
            except smtplib.SMTPAuthenticationError as exc:
                raise self.error(f"the mail server refused the login ({exc.smtp_code})") from None
            except (smtplib.SMTPException, OSError) as exc:
                raise self.error(
                    f"cannot start the SMTP session with {self.where}: {type(exc).__name__}: {exc}"
                ) from None
            yield MailSession(smtp, self.sender, self)
        finally:
            try:
                smtp.quit()
            except (smtplib.SMTPException, OSError):
                smtp.close()
