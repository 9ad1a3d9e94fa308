"""Decode request bodies into Structs, and when that fails, name every bad field.

msgspec stops at the first error, which is right for speed and wrong for a client who has to fix a
10,000-item batch. So the fast path decodes with msgspec; only a body that fails is decoded again
generically and checked field by field against the same Struct annotations, collecting every error.

The limits a deployment may change (attributes per transaction, characters per attribute name) cannot live
in the annotations, which are fixed at import; they come in as a `Limits` value built from the settings
and are checked after msgspec, with the same messages msgspec would give.

A body comes as JSON or as MessagePack (`BodyFormat`): both decode into the same Structs, so the canonical
form and the digest of a transaction do not depend on how it was sent. MessagePack can carry NaN and
Infinity, which JSON cannot; they are refused after decoding, with the message JSON's explanation gives.
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import Any, Literal, TypeVar

import msgspec

from fraudlog.domain.events import ATTRIBUTE_NAME_PATTERN, MAX_ATTRIBUTE_NAME, MAX_ATTRIBUTES, TransactionIn

S = TypeVar("S", bound=msgspec.Struct)
BodyFormat = Literal["json", "msgpack"]
_DECODE: dict[str, Callable[..., Any]] = {"json": msgspec.json.decode, "msgpack": msgspec.msgpack.decode}
NON_FINITE = "must be a finite number (NaN and Infinity are not allowed)"
UNPRINTABLE_NAME = "must be printable text: no control, bidirectional or invisible characters"


@dataclass(frozen=True)
class FieldError:
    pointer: str  # JSON Pointer (RFC 6901) into the request body, e.g. "/3/amount"
    detail: str


@dataclass(frozen=True)
class Limits:
    """What a transaction may carry: FRAUDLOG_MAX_ATTRIBUTES and FRAUDLOG_MAX_ATTRIBUTE_NAME (`Settings.limits`)."""

    max_attributes: int = MAX_ATTRIBUTES
    max_attribute_name: int = MAX_ATTRIBUTE_NAME

    def attribute_errors(self, attributes: Mapping[str, Any], pointer: str) -> list[FieldError]:
        """Errors for `attributes` (at `pointer`): beyond these limits, or a name that is not printable."""
        if len(attributes) > self.max_attributes:
            return [FieldError(pointer, f"Expected `object` of length <= {self.max_attributes}")]
        # The usual case, checked in C: names seen before, none too long.
        if _PRINTABLE_NAMES.issuperset(attributes) and max(map(len, attributes), default=0) <= self.max_attribute_name:
            return []
        errors = []
        for name in map(str, attributes):
            if len(name) > self.max_attribute_name:
                errors.append(FieldError(f"{pointer}/{_escape(name)}",
                                         f"Expected `str` of length <= {self.max_attribute_name}"))
            elif not _printable_name(name):
                errors.append(FieldError(f"{pointer}/{_escape(name)}", UNPRINTABLE_NAME))
        return errors


# Attribute names known to be printable. Clients send the same few dozen names over and over, so each is
# matched once; the cap bounds what a client sending ever new names can make this process hold.
_PRINTABLE_NAMES: set[str] = set()
_PRINTABLE_NAMES_CAP = 100_000
_is_printable_name = re.compile(ATTRIBUTE_NAME_PATTERN).match


def _printable_name(name: str) -> bool:
    if _is_printable_name(name) is None:
        return False
    if len(_PRINTABLE_NAMES) < _PRINTABLE_NAMES_CAP:
        _PRINTABLE_NAMES.add(name)
    return True


class InvalidBody(ValueError):
    def __init__(self, errors: list[FieldError], title: str = "The request body is invalid") -> None:
        super().__init__("; ".join(f"{e.pointer or '/'}: {e.detail}" for e in errors))
        self.title = title
        self.errors = errors


def decode_one_or_many(body: bytes, struct: type[S], max_items: int, limits: Limits,
                       body_format: BodyFormat = "json") -> tuple[list[S], bool]:
    """Decode an object or an array of objects. Returns the items and whether the body was an array."""
    with _refusing_deep_nesting():
        try:
            decoded = _DECODE[body_format](body, type=struct | list[struct])  # type: ignore[valid-type]
        except (msgspec.ValidationError, msgspec.DecodeError):
            raise InvalidBody(_explain(body, struct, max_items, limits, body_format=body_format)) from None
        if body_format == "json":
            _refuse_duplicate_keys(body)
    as_array = isinstance(decoded, list)
    items = decoded if as_array else [decoded]
    if as_array:
        if not items:
            raise InvalidBody([FieldError("", "an array must hold at least one item")])
        if len(items) > max_items:
            raise InvalidBody([FieldError("", f"an array may hold at most {max_items} items, got {len(items)}")])
    if body_format == "msgpack":
        _refuse_non_finite(items, as_array=as_array)
    _refuse_beyond_limits(items, limits, as_array=as_array)
    _refuse_times_outside_utc(items, as_array=as_array)
    _normalize_text(items, as_array=as_array)
    return items, as_array


def decode_object(body: bytes, struct: type[S], limits: Limits) -> S:
    """Decode one JSON object into `struct`, naming every bad field when it does not fit."""
    with _refusing_deep_nesting():
        try:
            decoded = msgspec.json.decode(body, type=struct)
        except (msgspec.ValidationError, msgspec.DecodeError):
            raise InvalidBody(_explain(body, struct, 0, limits, allow_array=False)) from None
        _refuse_duplicate_keys(body)
    _refuse_beyond_limits([decoded], limits, as_array=False)
    _refuse_times_outside_utc([decoded], as_array=False)
    _normalize_text([decoded], as_array=False)
    return decoded


TOO_DEEP = "arrays and objects are nested hundreds of levels deep: no valid body nests more than a few"


@contextmanager
def _refusing_deep_nesting() -> Iterator[None]:
    """msgspec and Python's json decode nested values recursively and raise RecursionError on a body such as
    3,000 `[`: that is the client's error, not the server's. Only the decoders run inside this block."""
    try:
        yield
    except RecursionError:
        raise InvalidBody([FieldError("", TOO_DEEP)]) from None


def _refuse_non_finite(items: Sequence[msgspec.Struct], *, as_array: bool) -> None:
    if all(_all_finite(item) for item in items):  # the usual case, without naming a single field
        return
    errors = [FieldError(f"/{index}{pointer}" if as_array else pointer, NON_FINITE)
              for index, item in enumerate(items) for pointer in _non_finite_fields(item)]
    if errors:
        raise InvalidBody(errors)


def _all_finite(value: Any) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, msgspec.Struct):
        return all(_all_finite(getattr(value, name)) for name in value.__struct_fields__)
    if isinstance(value, dict):
        try:  # numbers only, the usual attributes: checked in C
            return all(map(math.isfinite, value.values()))
        except TypeError:  # text among them
            return all(_all_finite(v) for v in value.values())
    return True


def _non_finite_fields(item: msgspec.Struct, pointer: str = "") -> list[str]:
    """Pointers of the NaN and infinite numbers in `item`'s fields, nested Structs and dicts included."""
    found: list[str] = []
    for field in msgspec.structs.fields(item):
        value = getattr(item, field.name)
        if isinstance(value, msgspec.Struct):
            found.extend(_non_finite_fields(value, f"{pointer}/{field.encode_name}"))
        else:
            found.extend(_non_finite(value, f"{pointer}/{field.encode_name}"))
    return found


def _refuse_beyond_limits(items: Sequence[msgspec.Struct], limits: Limits, *, as_array: bool) -> None:
    errors = [error for index, item in enumerate(items)
              for error in _beyond_limits(item, limits, f"/{index}" if as_array else "")]
    if errors:
        raise InvalidBody(errors)


def _beyond_limits(item: msgspec.Struct, limits: Limits, pointer: str) -> list[FieldError]:
    """Errors for the transactions in `item` (itself, or nested as in a predict request) beyond `limits`."""
    if isinstance(item, TransactionIn):
        return limits.attribute_errors(item.attributes, f"{pointer}/attributes")
    return [error for field in msgspec.structs.fields(item)
            if isinstance(value := getattr(item, field.name), msgspec.Struct)
            for error in _beyond_limits(value, limits, f"{pointer}/{field.encode_name}")]


def _refuse_duplicate_keys(body: bytes) -> None:
    """A JSON object that names a key twice is refused: RFC 8259 leaves its meaning to the parser (msgspec keeps
    the last, another parser the first), so a proxy or an auditor could read another amount than we stored.
    msgspec cannot tell, so the body is scanned again by Python's json (in C): about 2.5 us per transaction."""
    try:
        json.loads(body, object_pairs_hook=_unique_pairs)
    except _DuplicateKey as duplicate:
        raise InvalidBody([FieldError("", f"the key {json.dumps(duplicate.key)} appears twice in one object: "
                                          "each key may appear once")]) from None


class _DuplicateKey(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _unique_pairs(pairs: list[tuple[str, Any]]) -> None:
    # Nothing is built: the document was decoded already, this pass only looks for a repeated key.
    if len(pairs) > 1 and len({key for key, _ in pairs}) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _DuplicateKey(key)
            seen.add(key)


def _normalize_text(items: Sequence[msgspec.Struct], *, as_array: bool) -> None:
    """Attribute names and text values are stored in Unicode NFC, so that "cafe\u0301" and "caf\u00e9" are one
    value to every feature and every query (docs/api.md, "Text"). ASCII, the usual case, is NFC already."""
    errors: list[FieldError] = []
    for index, item in enumerate(items):
        for pointer, transaction in _transactions(item, f"/{index}" if as_array else ""):
            errors.extend(_normalize_attributes(transaction, f"{pointer}/attributes"))
    if errors:
        raise InvalidBody(errors)


def _transactions(item: msgspec.Struct, pointer: str) -> Iterator[tuple[str, TransactionIn]]:
    if isinstance(item, TransactionIn):
        yield pointer, item
        return
    for field in msgspec.structs.fields(item):
        if isinstance(value := getattr(item, field.name), msgspec.Struct):
            yield from _transactions(value, f"{pointer}/{field.encode_name}")


def _normalize_attributes(transaction: TransactionIn, pointer: str) -> list[FieldError]:
    attributes = transaction.attributes
    if all(map(str.isascii, attributes)) and all(v.isascii() for v in attributes.values() if isinstance(v, str)):
        return []
    normalized = {_nfc(name): _nfc(value) if isinstance(value, str) else value for name, value in attributes.items()}
    if len(normalized) < len(attributes):
        names = sorted({_nfc(name) for name in attributes if _nfc(name) != name})
        return [FieldError(f"{pointer}/{_escape(name)}", "two attribute names are the same text once normalized "
                                                         "(Unicode NFC): send one") for name in names]
    transaction.attributes = normalized
    return []


def _nfc(text: str) -> str:
    return text if unicodedata.is_normalized("NFC", text) else unicodedata.normalize("NFC", text)


# Payment times a fraud service can reason about. The bounds also keep every derived time (a window's
# start, a UTC conversion) representable: 0001-01-01T00:00:00+01:00 is valid RFC 3339 but not a UTC time.
EARLIEST_TIME = datetime(1970, 1, 2, tzinfo=UTC)
LATEST_TIME = datetime(9999, 12, 30, tzinfo=UTC)


def _refuse_times_outside_utc(items: Sequence[msgspec.Struct], *, as_array: bool) -> None:
    """Every stored time is UTC and within the bounds above; a time outside them is the client's error,
    named here, not a 500 later."""
    errors = [FieldError(f"/{index}{pointer}" if as_array else pointer,
                         "must lie between 1970-01-02 and 9999-12-30 (UTC)")
              for index, item in enumerate(items) for pointer in _times_outside_utc(item)]
    if errors:
        raise InvalidBody(errors)


def _times_outside_utc(item: msgspec.Struct) -> list[str]:
    """Pointers, relative to `item`, of its times (nested ones too) that UTC cannot express."""
    bad: list[str] = []
    for name, encode_name, nested in _time_fields(type(item)):
        value = getattr(item, name)
        if value is None:
            continue
        if nested:
            bad.extend(f"/{encode_name}{pointer}" for pointer in _times_outside_utc(value))
        elif _outside_utc(value):
            bad.append(f"/{encode_name}")
    return bad


def _outside_utc(moment: datetime) -> bool:
    try:
        return not EARLIEST_TIME <= moment.astimezone(UTC) <= LATEST_TIME
    except OverflowError:
        return True


@cache
def _time_fields(struct: type[msgspec.Struct]) -> tuple[tuple[str, str, bool], ...]:
    """(attribute, JSON name, is a nested Struct) of the fields that hold a time, directly or nested."""
    found: list[tuple[str, str, bool]] = []
    for field in msgspec.structs.fields(struct):
        annotation = field.type
        options = getattr(annotation, "__args__", (annotation,))
        if any(_struct_type(option) is not None for option in options):
            found.append((field.name, field.encode_name, True))
        elif any(option is datetime or getattr(option, "__origin__", None) is datetime for option in options):
            found.append((field.name, field.encode_name, False))
    return tuple(found)


def _explain(body: bytes, struct: type[msgspec.Struct], max_items: int, limits: Limits,
             allow_array: bool = True, body_format: BodyFormat = "json") -> list[FieldError]:
    if body_format == "msgpack":
        try:
            document = msgspec.msgpack.decode(body)
        except msgspec.DecodeError as exc:
            return [FieldError("", f"malformed MessagePack: {exc}")]
        return _explain_document(document, struct, max_items, limits, allow_array)
    try:
        # Python's json accepts NaN and Infinity and turns 1e400 into inf, so we can name the field.
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        return [FieldError("", f"malformed JSON: {exc}")]
    return _explain_document(document, struct, max_items, limits, allow_array)


def _explain_document(document: Any, struct: type[msgspec.Struct], max_items: int, limits: Limits,
                      allow_array: bool) -> list[FieldError]:
    if isinstance(document, list) and allow_array:
        if len(document) > max_items:
            return [FieldError("", f"an array may hold at most {max_items} items, got {len(document)}")]
        errors = [e for i, item in enumerate(document) for e in check_object(item, struct, f"/{i}", limits)]
    else:
        errors = check_object(document, struct, "", limits)
    return errors or [FieldError("", "the body does not match the schema")]


def check_object(item: Any, struct: type[msgspec.Struct], pointer: str, limits: Limits) -> list[FieldError]:
    if not isinstance(item, dict):
        return [FieldError(pointer, f"expected an object, got {_json_kind(item)}")]
    fields = {f.encode_name: f for f in msgspec.structs.fields(struct)}
    errors = [FieldError(f"{pointer}/{_escape(str(key))}", "unknown field") for key in item if key not in fields]
    for name, field in fields.items():
        if name not in item:
            if field.required:
                errors.append(FieldError(f"{pointer}/{name}", "required field is missing"))
            continue
        nested = _struct_type(field.type)
        value = item[name]
        if nested is not None and isinstance(value, dict):
            errors.extend(check_object(value, nested, f"{pointer}/{name}", limits))
            continue
        if struct is TransactionIn and name == "attributes" and isinstance(value, dict):
            beyond = limits.attribute_errors(value, f"{pointer}/{name}")
            errors.extend(beyond)
            flagged = {error.pointer for error in beyond}
            value = {k: v for k, v in value.items() if f"{pointer}/{name}/{_escape(str(k))}" not in flagged}
            if f"{pointer}/{name}" in flagged:
                continue
        errors.extend(_check_value(value, field.type, f"{pointer}/{name}"))
    return errors


def _struct_type(annotation: Any) -> type[msgspec.Struct] | None:
    return annotation if isinstance(annotation, type) and issubclass(annotation, msgspec.Struct) else None


def _check_value(value: Any, annotation: Any, pointer: str) -> list[FieldError]:
    bad_numbers = [p for p in _non_finite(value, pointer)]
    if bad_numbers:
        return [FieldError(p, NON_FINITE) for p in bad_numbers]
    try:
        msgspec.convert(value, annotation, strict=True)
    except msgspec.ValidationError as exc:
        # msgspec names a bad dict entry only as `[...]`; check entries one by one to name each key.
        per_key = _check_entries(value, annotation, pointer) if isinstance(value, dict) else []
        return per_key or [FieldError(_join(pointer, str(exc)), _message(str(exc)))]
    return []


def _check_entries(value: dict[Any, Any], annotation: Any, pointer: str) -> list[FieldError]:
    errors = []
    for key, item in value.items():
        try:
            msgspec.convert({key: item}, annotation, strict=True)
        except msgspec.ValidationError as exc:
            errors.append(FieldError(f"{pointer}/{_escape(str(key))}", _message(str(exc))))
    return errors


def _non_finite(value: Any, pointer: str) -> list[str]:
    if isinstance(value, float) and not math.isfinite(value):
        return [pointer]
    if isinstance(value, dict):
        return [p for key, v in value.items() for p in _non_finite(v, f"{pointer}/{_escape(str(key))}")]
    return []


def _message(text: str) -> str:
    """msgspec says "Expected `str`, got `int` - at `$.x`"; keep the first half, the pointer carries the rest."""
    return text.split(" - at `", 1)[0]


def _join(pointer: str, text: str) -> str:
    if " - at `$" not in text:
        return pointer
    path = text.rsplit(" - at `$", 1)[1].rstrip("`")
    # msgspec paths look like `.key`, `[0]` or `[...]` (a dict key); turn them into pointer segments.
    segments = path.replace("[", ".").replace("]", "").split(".")
    return pointer + "".join(f"/{_escape(s)}" for s in segments if s and s != "...")


def _escape(segment: str) -> str:
    return segment.replace("~", "~0").replace("/", "~1")


def _json_kind(value: Any) -> str:
    return {list: "an array", str: "a string", bool: "a boolean", type(None): "null"}.get(
        type(value), "a number"
    )
