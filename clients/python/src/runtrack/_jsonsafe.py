"""JSON for values a scraper hands to the tracker (params, log fields, error details).

Tracking must never raise into the scraper, so every value becomes JSON: dates, datetimes and
times as ISO 8601, Decimal and UUID as strings, sets and tuples as lists, non-finite floats and
anything else via str() with one warning on the "runtrack" logger. Non-string keys become strings
the same way; a container that contains itself is cut with "<cycle>".
"""
from __future__ import annotations

import datetime as _dt
import decimal
import json
import logging
import math
import re
import uuid
from typing import Any, Dict, Optional

log = logging.getLogger("runtrack")

_MAX_DEPTH = 64  # deeper nesting is not a scraper's data: cut with str()

# A datetime (or an ISO 8601 string with a time part) given as one of these params names a date:
# discovery_runs.posted_from/posted_to are DATE columns (seed 001 passes last_run.completed_at).
DATE_PARAMS = ("posted_from", "posted_to")
_ISO_DATETIME = re.compile(r"^(\d{4}-\d{2}-\d{2})[T ]\d{2}:\d{2}")


def _warn(value: Any, where: str) -> str:
    text = _str(value)
    log.warning("runtrack: %s: %s is not JSON; sent as its str(): %.80r", where,
                type(value).__name__, text)
    return text


def _str(value: Any) -> str:
    try:
        return str(value)
    except Exception:  # noqa: BLE001 - a broken __str__ must not break tracking either
        return "<%s>" % type(value).__name__


def _key(k: Any, where: str) -> str:
    if isinstance(k, str):
        return k
    if isinstance(k, (int, float, bool)) or k is None:
        return json.dumps(k)
    return _scalar(k, where) if _is_known(k) else _warn(k, where + " key")


def _is_known(v: Any) -> bool:
    return isinstance(v, (_dt.date, _dt.time, decimal.Decimal, uuid.UUID))


def _scalar(v: Any, where: str) -> Any:
    if isinstance(v, (_dt.date, _dt.time)):  # datetime is a date
        return v.isoformat()
    if isinstance(v, (decimal.Decimal, uuid.UUID)):
        return str(v)
    return _warn(v, where)


def jsonable(value: Any, where: str = "value", _depth: int = 0, _seen: Optional[set] = None) -> Any:
    """value as plain JSON types (dict with str keys, list, str, int, finite float, bool, None)."""
    if value is None or isinstance(value, (str, bool, int)):
        return int(value) if type(value) not in (int, bool) and isinstance(value, int) else value
    if isinstance(value, float):
        return value if math.isfinite(value) else _warn(value, where)
    if _is_known(value):
        return _scalar(value, where)
    if _depth >= _MAX_DEPTH:
        return _warn(value, where + " (nested too deep)")
    if isinstance(value, (dict, list, tuple, set, frozenset)):
        seen = _seen if _seen is not None else set()
        if id(value) in seen:
            log.warning("runtrack: %s: a container contains itself; cut with \"<cycle>\"", where)
            return "<cycle>"
        seen.add(id(value))
        try:
            if isinstance(value, dict):
                return {_key(k, where): jsonable(v, where, _depth + 1, seen)
                        for k, v in value.items()}
            items = sorted(value, key=_str) if isinstance(value, (set, frozenset)) else value
            return [jsonable(v, where, _depth + 1, seen) for v in items]
        finally:
            seen.discard(id(value))
    return _warn(value, where)


def dumps(value: Any, where: str = "value") -> str:
    """Compact JSON text for value (see jsonable): never raises."""
    return json.dumps(jsonable(value, where), separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False)


def as_date_param(value: Any) -> Any:
    """posted_from / posted_to: a datetime (or ISO datetime string) becomes its date."""
    if isinstance(value, _dt.datetime):
        return value.date().isoformat()
    if isinstance(value, str):
        m = _ISO_DATETIME.match(value)
        if m:
            return m.group(1)
    return value


def params_json(params: Optional[Dict[str, Any]]) -> Optional[str]:
    """Run params as a JSON object text (None for no params)."""
    if params is None:
        return None
    if not isinstance(params, dict):
        log.warning("runtrack: params must be a dict, got %s; sent as {\"value\": ...}",
                    type(params).__name__)
        params = {"value": params}
    fixed = {k: (as_date_param(v) if k in DATE_PARAMS else v) for k, v in params.items()}
    if isinstance(fixed.get("naics_codes"), (list, tuple, set)):
        # TEXT[] in discovery_runs; a code given as an int is still the same code.
        fixed["naics_codes"] = [c if isinstance(c, str) else _str(c) for c in fixed["naics_codes"]]
    return dumps(fixed, "params")
