"""The dashboard's one way to the REST API: httpx with timeouts and the service token, every failure turned
into an ApiError whose text can be shown on the page (it names the route and what to do, never the token).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import httpx

from fitpipe.errors import FitpipeError

__all__ = ["ApiClient", "ApiError"]

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=5.0)
Params = Mapping[str, str | int | float | bool | Sequence[str] | None]


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


def _clean(params: Params | None) -> dict[str, Any]:
    """httpx sends a list as repeated parameters; None means 'leave it out'; booleans as the API spells them."""
    out: dict[str, Any] = {}
    for key, value in (params or {}).items():
        if value is None:
            continue
        out[key] = ("true" if value else "false") if isinstance(value, bool) else value
    return out


class ApiClient:
    """Calls the fitpipe API at `base_url` with `Authorization: Bearer <token>`."""

    def __init__(
        self,
        base_url: str,
        token: str | None,
        *,
        timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._http = httpx.Client(
            base_url=self.base_url, headers=headers, timeout=timeout, transport=transport
        )
        self.has_token = bool(token)

    def __repr__(self) -> str:  # the token stays out of reprs, logs and tracebacks
        return f"ApiClient({self.base_url!r}, token={'set' if self.has_token else 'missing'})"

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
        json: Any = None,
        ok: Sequence[int] = (200,),
        timeout: float | None = None,
    ) -> dict[str, Any]:
        """The JSON body of a successful answer; statuses in `ok` count as success (contact answers 409 too)."""
        where = f"{method} {path}"
        kwargs: dict[str, Any] = {"params": _clean(params)}
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
        raise _error(response.status_code, where, body)

    # --- routes ----------------------------------------------------------------------------------------

    def participants(self, study: str | None = None) -> dict[str, Any]:
        return self.request("GET", "/api/v1/participants", params={"study": study})

    def participant(self, user_id: str, study: str | None = None) -> dict[str, Any]:
        return self.request("GET", f"/api/v1/participants/{_segment(user_id)}", params={"study": study})

    def adherence(
        self,
        study: str,
        start_date: str | None = None,
        end_date: str | None = None,
        user_ids: Sequence[str] | None = None,
    ) -> dict[str, Any]:
        return self.request(
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
    ) -> dict[str, Any]:
        return self.request(
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

    def catalog(self) -> dict[str, Any]:
        return self.request("GET", "/api/v1/metrics-catalog")

    def runs(self, limit: int = 20) -> dict[str, Any]:
        return self.request("GET", "/api/v1/ingest/runs", params={"limit": limit})

    def quarantine(self, study: str | None = None, limit: int = 50) -> dict[str, Any]:
        return self.request("GET", "/api/v1/quarantine", params={"study": study, "limit": limit})

    def sleep(
        self, user_id: str, *, study: str | None = None, start: str | None = None, end: str | None = None
    ) -> dict[str, Any] | None:
        """Sleep sessions with their stages, or None while the API has no /sleep route (the page then shows
        nightly minutes only)."""
        try:
            return self.request(
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
    ) -> dict[str, Any]:
        """One participant; a refusal within the cooldown (409) and a failed delivery (422, 502) are answers
        with a status, not errors: the page reports them per participant."""
        payload: dict[str, Any] = {"force": force, "dry_run": dry_run}
        if reasons:
            payload["reason"] = list(reasons)
        return self.request(
            "POST",
            f"/api/v1/participants/{_segment(user_id)}/contact",
            params={"study": study},
            json=payload,
            ok=(200, 409, 422, 502),
        )

    def contact_flagged(self, study: str, *, force: bool = False, dry_run: bool = False) -> dict[str, Any]:
        return self.request(
            "POST", "/api/v1/contact/flagged", params={"study": study, "force": force, "dry_run": dry_run}
        )


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
    if status == 401:
        hint = (
            hint
            or "set FITPIPE_API_TOKEN to a valid token (`fitpipe token create --role service --all-studies`)"
        )
    elif status == 403:
        hint = hint or "the dashboard's token lacks this permission; use a service or coordinator token"
    return ApiError(
        f"the API refused {where} ({status}): {detail or 'no detail'}",
        status=status,
        hint=str(hint) if hint else None,
        body=body,
    )
