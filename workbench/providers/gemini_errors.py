"""Gemini's errors: an SDK or transport exception to the workbench's ProviderError.

The SDK's classes are looked up among modules already imported (`_loaded`), so this module
never imports the SDK itself. Classification follows `workbench.providers.classify`.
"""

from __future__ import annotations

import json
import re
import sys
from typing import Any

from workbench.errors import ProviderError
from workbench.providers import classify
from workbench.providers._common import retry_after_seconds

LABEL = "gemini"
# google.rpc status names, for errors that arrive without an HTTP code (an error chunk mid-stream).
_STATUS_CODES = {
    **dict.fromkeys(("INVALID_ARGUMENT", "FAILED_PRECONDITION", "OUT_OF_RANGE"), 400),
    **{"UNAUTHENTICATED": 401, "PERMISSION_DENIED": 403, "NOT_FOUND": 404},
    **{"RESOURCE_EXHAUSTED": 429, "INTERNAL": 500, "UNAVAILABLE": 503, "DEADLINE_EXCEEDED": 504},
}


def _loaded(*names: str) -> tuple[type, ...]:
    """Classes ("module:Class") from modules already imported; never imports anything."""
    found: list[type] = []
    for name in names:
        module, _, attr = name.partition(":")
        cls = getattr(sys.modules.get(module), attr, None)
        if isinstance(cls, type):
            found.append(cls)
    return tuple(found)


def _details(body: Any) -> list[dict[str, Any]]:
    """Return the google.rpc `details` of an error body, wrapped in "error" or not."""
    if not isinstance(body, dict):
        return []
    inner = body.get("error", body)
    details = inner.get("details") if isinstance(inner, dict) else None
    return [d for d in details if isinstance(d, dict)] if isinstance(details, list) else []


def retry_delay_seconds(body: Any) -> float | None:
    """Read the RetryInfo `retryDelay` ("34s", "0.5s") of a 429's body, in seconds."""
    for detail in _details(body):
        if str(detail.get("@type", "")).endswith("google.rpc.RetryInfo"):
            match = re.fullmatch(r"\s*(\d+(?:\.\d*)?)s\s*", str(detail.get("retryDelay", "")))
            if match:
                return float(match.group(1))
    return None


def _key_rejected(body: Any) -> bool:
    # The Gemini API answers a bad key with 400 INVALID_ARGUMENT, reason API_KEY_INVALID.
    return any(d.get("reason") == "API_KEY_INVALID" for d in _details(body))


def _from_api_error(exc: Any, secrets: tuple[str | None, ...]) -> ProviderError:
    status_name = exc.status if isinstance(exc.status, str) else None
    code = exc.code if isinstance(exc.code, int) else _STATUS_CODES.get(status_name or "")
    kind = "API_KEY_INVALID" if code == 400 and _key_rejected(exc.details) else status_name
    retry_after = None
    if code == 429:
        headers = getattr(getattr(exc, "response", None), "headers", None)
        retry_after = retry_after_seconds(headers) if headers else None
        if retry_after is None:
            retry_after = retry_delay_seconds(exc.details)
    return classify.from_status(
        LABEL,
        code,
        str(exc.message or "no error message"),
        kind=kind,
        retry_after=retry_after,
        secrets=secrets,
    )


def error_from_exception(exc: BaseException, *, secret: str | None = None) -> ProviderError:
    """Map an SDK or transport exception onto the workbench's ProviderError types."""
    if isinstance(exc, ProviderError):
        return exc
    secrets = (secret,)
    if isinstance(exc, _loaded("google.genai.errors:APIError")):
        return _from_api_error(exc, secrets)
    what = type(exc).__name__
    # aiohttp (which the SDK prefers when installed) times out with the built-in TimeoutError.
    if isinstance(
        exc, (TimeoutError, *_loaded("httpx2:TimeoutException", "httpx:TimeoutException"))
    ):
        return classify.timed_out(LABEL)
    unreadable = _loaded(
        "google.genai.errors:UnknownApiResponseError",
        "pydantic:ValidationError",
        "httpx2:DecodingError",
        "httpx:DecodingError",
        "aiohttp:ClientPayloadError",
    )
    if isinstance(exc, (json.JSONDecodeError, *unreadable)):
        return classify.malformed(LABEL, what, secrets)
    transport = _loaded(
        "httpx2:TransportError", "httpx:TransportError", "aiohttp:ClientConnectionError"
    )
    if isinstance(exc, (OSError, *transport)):
        return classify.unreachable(LABEL, f"{what}: {exc}", secrets)
    return classify.unexpected(LABEL, exc, secrets)
