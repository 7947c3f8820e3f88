"""The `since`/`until` bounds of lab notebook queries: a date, a datetime or an ISO string.

A date means the whole day (UTC); a naive datetime means UTC. Record timestamps are ISO 8601
with a `Z`, which `datetime.fromisoformat` reads as it is (Python 3.11+).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from workbench.errors import InvalidOption

When = str | date | datetime


def moment(value: When) -> date | datetime:
    """A bound as a date or a datetime; an ISO string of 10 characters is a date."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    try:
        return date.fromisoformat(text) if len(text) == 10 else datetime.fromisoformat(text)
    except ValueError:
        raise InvalidOption(
            f"{value!r} is not a date or time: use YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS][+HH:MM]"
        ) from None


def utc(value: When, *, end: bool = False) -> datetime:
    """A bound as a naive UTC datetime; a date is its first instant (its last with `end`)."""
    found = moment(value)
    if not isinstance(found, datetime):
        found = datetime.combine(found, time.min) + timedelta(days=1, microseconds=-1) * end
    if found.tzinfo is not None:
        found = found.astimezone(UTC).replace(tzinfo=None)
    return found


def day(value: When | None) -> date | None:
    """The UTC day a bound falls on (None for None)."""
    return None if value is None else utc(value).date()
