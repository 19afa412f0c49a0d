"""The dashboard's one way to the REST API: httpx with timeouts, every request made as the signed-in person
(their session token, from `token_source`), every failure turned into an ApiError whose text can be shown
on the page (it names the route and what to do, never the token). A 401 to a person's request is not an
ApiError but SessionEnded: the page cannot go on, the person must sign in again.

Every answer is decoded with the model its route declares (fitpipe.contracts, the API's own response models):
the pages get typed objects, never probe for keys, and an answer that does not fit is an AnswerMismatch
naming the route and the fields, not a KeyError inside a chart.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from enum import Enum
from typing import Any, TypedDict, TypeVar, Unpack

import httpx
from pydantic import BaseModel

from fitpipe.contracts import (
    AdherenceAnswer,
    CatalogAnswer,
    ContactRefused,
    ContactResult,
    ContractError,
    FlaggedContactAnswer,
    ParticipantDetail,
    ParticipantsAnswer,
    Person,
    QuarantineAnswer,
    RunsAnswer,
    SessionOut,
    SleepAnswer,
    TimeseriesAnswer,
    decode,
)
from fitpipe.errors import FitpipeError

__all__ = ["ApiClient", "ApiError", "AnswerMismatch", "SessionEnded"]

M = TypeVar("M", bound=BaseModel)

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=5.0)
Params = Mapping[str, str | int | float | bool | Sequence[str] | None]


class SessionEnded(FitpipeError):
    """The API no longer accepts the person's session (signed out elsewhere, expired, idle, disabled). Not
    an ApiError on purpose: callbacks that show API errors on the page let it through, the request is
    answered 401 and the browser goes to the sign-in page."""


class _Token(Enum):
    FROM_SOURCE = "the person's, from token_source"


_FROM_SOURCE = _Token.FROM_SOURCE


class RequestOptions(TypedDict, total=False):
    """ApiClient.request's options, as answer() passes them on."""

    params: Params | None
    json: Mapping[str, object] | None
    ok: Sequence[int]
    timeout: float | None
    token: str | None | _Token


class ApiError(FitpipeError):
    """The API could not be reached or refused a request; `str()` is a sentence for the page."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        hint: str | None = None,
        body: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.status = status
        self.body = dict(body or {})


class AnswerMismatch(ApiError):
    """The API answered, but not with what its model (fitpipe.contracts) says: different releases, or a bug."""


def _clean(params: Params | None) -> dict[str, Any]:
    """httpx sends a list as repeated parameters; None means 'leave it out'; booleans as the API spells them."""
    out: dict[str, Any] = {}
    for key, value in (params or {}).items():
        if value is None:
            continue
        out[key] = ("true" if value else "false") if isinstance(value, bool) else value
    return out


def _of_a_person(answer: SessionOut) -> SessionOut:
    """A session always belongs to a signed-in person (the model allows null for API tokens' /me)."""
    if answer.person.username is None:
        raise AnswerMismatch("the API's sign-in answer names no person (person.username is null)")
    return answer


class ApiClient:
    """Calls the fitpipe API at `base_url` with `Authorization: Bearer <token>`: a fixed token, or the one
    `token_source` returns at each request (the signed-in person's)."""

    def __init__(
        self,
        base_url: str,
        token: str | None = None,
        *,
        token_source: Callable[[], str | None] | None = None,
        timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._token_source = token_source or (lambda: token)
        self._http = httpx.Client(base_url=self.base_url, timeout=timeout, transport=transport)

    def __repr__(self) -> str:  # tokens stay out of reprs, logs and tracebacks
        return f"ApiClient({self.base_url!r})"

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> ApiClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- transport -------------------------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Params | None = None,
        json: Mapping[str, object] | None = None,
        ok: Sequence[int] = (200,),
        timeout: float | None = None,
        token: str | None | _Token = _FROM_SOURCE,
    ) -> dict[str, Any]:
        """The JSON body of a successful answer; statuses in `ok` count as success (contact answers 409 too).
        `token`: this one instead of the person's (None: no token at all, as for signing in)."""
        where = f"{method} {path}"
        personal = isinstance(token, _Token)
        bearer = self._token_source() if isinstance(token, _Token) else token
        kwargs: dict[str, Any] = {"params": _clean(params)}
        if bearer:
            kwargs["headers"] = {"Authorization": f"Bearer {bearer}"}
        if json is not None:
            kwargs["json"] = json
        if timeout is not None:
            kwargs["timeout"] = timeout
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.TimeoutException:
            raise ApiError(
                f"the API at {self.base_url} did not answer {where} in time",
                hint="the API may be overloaded; try a shorter range or a coarser granularity",
            ) from None
        except httpx.HTTPError as exc:
            raise ApiError(
                f"cannot reach the API at {self.base_url} ({type(exc).__name__}: {exc})",
                hint="start it with `fitpipe serve api` or set FITPIPE_API_URL to where it runs",
            ) from None
        body = _json(response)
        if response.status_code in ok:
            return body
        log.info("API %s answered %s", where, response.status_code)
        if response.status_code == 401 and personal:
            detail = str(body.get("detail") or "the session has ended")
            raise SessionEnded(detail, hint=None if "sign in" in detail else "sign in again")
        raise _error(response.status_code, where, body)

    def answer(self, model: type[M], method: str, path: str, **kwargs: Unpack[RequestOptions]) -> M:
        """The answer decoded as `model`; AnswerMismatch (an ApiError, shown on the page) when it does not fit."""
        return _decoded(model, self.request(method, path, **kwargs), f"{method} {path}")

    # --- signing in and out ----------------------------------------------------------------------------

    def sign_in(self, username: str, password: str) -> SessionOut:
        """A new session (201) or ApiError: 401 wrong name or password, 403 disabled, 423 locked."""
        return _of_a_person(
            self.answer(
                SessionOut,
                "POST",
                "/api/v1/auth/sign-in",
                json={"username": username, "password": password},
                ok=(201,),
                token=None,
            )
        )

    def proxy_sign_in(self, identity: str, match: str, signin_token: str) -> SessionOut:
        return _of_a_person(
            self.answer(
                SessionOut,
                "POST",
                "/api/v1/auth/proxy-sign-in",
                json={"identity": identity, "match": match},
                ok=(201,),
                token=signin_token,
            )
        )

    def me(self) -> Person:
        return self.answer(Person, "GET", "/api/v1/auth/me")

    def sign_out(self, token: str) -> None:
        self.request("POST", "/api/v1/auth/sign-out", ok=(204, 401), token=token)

    # --- routes ----------------------------------------------------------------------------------------

    def participants(self, study: str | None = None) -> ParticipantsAnswer:
        return self.answer(ParticipantsAnswer, "GET", "/api/v1/participants", params={"study": study})

    def participant(self, user_id: str, study: str | None = None) -> ParticipantDetail:
        return self.answer(
            ParticipantDetail, "GET", f"/api/v1/participants/{_segment(user_id)}", params={"study": study}
        )

    def adherence(
        self,
        study: str,
        start_date: str | None = None,
        end_date: str | None = None,
        user_ids: Sequence[str] | None = None,
    ) -> AdherenceAnswer:
        return self.answer(
            AdherenceAnswer,
            "GET",
            "/api/v1/adherence",
            params={
                "study": study,
                "start_date": start_date,
                "end_date": end_date,
                "user_id": user_ids or None,
            },
        )

    def timeseries(
        self,
        user_id: str,
        metrics: Sequence[str],
        *,
        study: str | None = None,
        start: str | None = None,
        end: str | None = None,
        granularity: str = "auto",
        impute: str = "none",
    ) -> TimeseriesAnswer:
        return self.answer(
            TimeseriesAnswer,
            "GET",
            "/api/v1/timeseries",
            params={
                "user_id": [user_id],
                "metric": list(metrics),
                "study": study,
                "start_date": start,
                "end_date": end,
                "granularity": granularity,
                "impute": impute,
                "format": "json",
            },
        )

    def catalog(self) -> CatalogAnswer:
        return self.answer(CatalogAnswer, "GET", "/api/v1/metrics-catalog")

    def runs(self, limit: int = 20) -> RunsAnswer:
        return self.answer(RunsAnswer, "GET", "/api/v1/ingest/runs", params={"limit": limit})

    def quarantine(self, study: str | None = None, limit: int = 50) -> QuarantineAnswer:
        return self.answer(
            QuarantineAnswer, "GET", "/api/v1/quarantine", params={"study": study, "limit": limit}
        )

    def sleep(
        self, user_id: str, *, study: str | None = None, start: str | None = None, end: str | None = None
    ) -> SleepAnswer | None:
        """Sleep sessions with their stages, or None while the API has no /sleep route (the page then shows
        nightly minutes only)."""
        try:
            return self.answer(
                SleepAnswer,
                "GET",
                "/api/v1/sleep",
                params={"user_id": user_id, "study": study, "start_date": start, "end_date": end},
            )
        except ApiError as exc:
            if exc.status in (404, 405) and exc.body.get("detail") in ("Not Found", "Method Not Allowed"):
                return None
            raise

    def contact(
        self,
        user_id: str,
        *,
        study: str | None = None,
        force: bool = False,
        dry_run: bool = False,
        reasons: Sequence[str] | None = None,
    ) -> ContactResult:
        """One participant's result; a refusal within the cooldown (409) and a failed delivery (409 without an
        address, 502) are results with a status (ContactRefused), not errors: the page reports them per
        participant. Any other refusal (nothing to write about, a reason refused) is an ApiError."""
        payload: dict[str, object] = {"force": force, "dry_run": dry_run}
        if reasons:
            payload["reason"] = list(reasons)
        where = f"POST /api/v1/participants/{_segment(user_id)}/contact"
        try:
            body = self.request(
                "POST",
                f"/api/v1/participants/{_segment(user_id)}/contact",
                params={"study": study},
                json=payload,
            )
        except ApiError as exc:
            if exc.status in (409, 502) and "status" in exc.body:  # a result, refused or failed
                return _decoded(ContactRefused, exc.body, where)
            raise
        return _decoded(ContactResult, body, where)

    def contact_flagged(
        self, study: str, *, force: bool = False, dry_run: bool = False
    ) -> FlaggedContactAnswer:
        return self.answer(
            FlaggedContactAnswer,
            "POST",
            "/api/v1/contact/flagged",
            params={"study": study, "force": force, "dry_run": dry_run},
        )


def _decoded(model: type[M], body: Mapping[str, Any], where: str) -> M:
    try:
        return decode(model, body, where)
    except ContractError as exc:
        raise AnswerMismatch(exc.message, hint=exc.hint, body=body) from None


def _segment(value: str) -> str:
    return httpx.URL(path=value).raw_path.decode().replace("/", "%2F")


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {"detail": response.text[:200] or response.reason_phrase}
    return body if isinstance(body, dict) else {"value": body}


def _error(status: int, where: str, body: Mapping[str, Any]) -> ApiError:
    detail = body.get("detail")
    if isinstance(detail, list):  # FastAPI's validation errors: [{"loc": [...], "msg": ...}]
        detail = "; ".join(
            f"{'.'.join(str(x) for x in d.get('loc', [])[1:])}: {d.get('msg')}" for d in detail
        )
    hint = body.get("hint")
    if status == 403:
        hint = hint or "your role does not allow this; ask an admin if you need it"
    return ApiError(
        f"the API refused {where} ({status}): {detail or 'no detail'}",
        status=status,
        hint=str(hint) if hint else None,
        body=body,
    )
