"""Domain errors of fitpipe. The core raises these; only the edges translate them
(the CLI into a message and exit code, the API into an HTTP status, the operator into a condition).

    FitpipeError
    ├── ConfigError            settings or environment are wrong (what to set, where)
    ├── DatabaseError          the database cannot be reached or started
    │   └── SchemaError        schema missing, too old or newer than this code
    ├── NotFoundError          a study, participant or metric that does not exist
    ├── ConflictError          the request contradicts what is stored
    ├── SignInError            a sign-in is refused (wrong name or password; never says which)
    │   ├── AccountLockedError too many wrong passwords: refused until `until`
    │   └── AccountDisabledError the account was disabled by an admin
    └── InputError             an input file or record cannot be read (names file, line, field)
        └── UnknownFormatError no parser recognises the input
"""

from __future__ import annotations

from datetime import datetime

__all__ = [
    "FitpipeError",
    "ConfigError",
    "DatabaseError",
    "SchemaError",
    "NotFoundError",
    "ConflictError",
    "InputError",
    "UnknownFormatError",
    "SignInError",
    "AccountLockedError",
    "AccountDisabledError",
]


class FitpipeError(Exception):
    """Base of every error fitpipe raises on purpose. `hint` says what to do next."""

    exit_code = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message}\n  hint: {self.hint}"


class ConfigError(FitpipeError):
    exit_code = 2


class DatabaseError(FitpipeError):
    exit_code = 3


class SchemaError(DatabaseError):
    exit_code = 3


class NotFoundError(FitpipeError):
    exit_code = 4


class ConflictError(FitpipeError):
    exit_code = 5


class InputError(FitpipeError):
    exit_code = 6

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        field: str | None = None,
        hint: str | None = None,
    ) -> None:
        where = ", ".join(
            part
            for part in (
                file and f"file {file}",
                line is not None and f"line {line}" or None,
                field and f"field {field}",
            )
            if part
        )
        super().__init__(f"{where}: {message}" if where else message, hint=hint)
        self.file = file
        self.line = line
        self.field = field


class UnknownFormatError(InputError):
    pass


class SignInError(FitpipeError):
    """`reason` (unknown_user, wrong_password, locked, disabled) and `user_id` are for the audit log; the
    message never tells an unknown user name from a wrong password."""

    exit_code = 7

    def __init__(
        self,
        message: str,
        *,
        reason: str = "wrong_password",
        user_id: int | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.reason = reason
        self.user_id = user_id


class AccountLockedError(SignInError):
    def __init__(self, message: str, *, until: datetime, user_id: int, hint: str | None = None) -> None:
        super().__init__(message, reason="locked", user_id=user_id, hint=hint)
        self.until = until


class AccountDisabledError(SignInError):
    def __init__(self, message: str, *, user_id: int, hint: str | None = None) -> None:
        super().__init__(message, reason="disabled", user_id=user_id, hint=hint)
