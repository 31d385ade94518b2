"""A JSS account as JSS exports it (a row of the import) and publishes it (a sync message), checked once.

Every refusal has a stable reason code and names the field, never its value: these are personal
data, and the codes go into import reports and logs. Numbers come out in E.164 (phonenumbers),
times as epoch milliseconds; a time without an offset is JSS's own, Western Indonesian Time.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from shared.clock import WIB
from shared.domain.accounts import VerifiedVia
from shared.domain.phone import NumberRefused, phone_e164, whatsapp_e164

# A time further ahead than this is a clock or data error: it would win over every later change.
FUTURE_TOLERANCE_MS = 24 * 3600 * 1000
_ACCOUNT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@|+-]{0,127}")
_DOMAIN_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
# A local part of printable characters (no space, no control character), a domain of DNS labels.
_EMAIL = re.compile(rf"[^@\s\x00-\x1f\x7f]{{1,64}}@{_DOMAIN_LABEL}(?:\.{_DOMAIN_LABEL})+")
# bcrypt as PHP ($2y$), OpenBSD ($2b$) or old PHP ($2a$) write it, and argon2id as PHP and argon2-cffi do.
_PASSWORD_HASH = re.compile(
    r"\$2[aby]\$(?:0[4-9]|[12][0-9]|3[01])\$[./A-Za-z0-9]{53}"
    r"|\$argon2id\$v=19\$m=\d{1,7},t=\d{1,4},p=\d{1,3}\$[A-Za-z0-9+/]{11,}\$[A-Za-z0-9+/]{16,}"
)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _refuse(reason: str, message: str) -> PydanticCustomError:
    return PydanticCustomError(reason, message)


def _account_id(value: str) -> str:
    if not _ACCOUNT_ID.fullmatch(value):
        raise _refuse("account_id_invalid", "1 to 128 letters, digits or ._:@|+-")
    return value


def _blank_is_none(value: Any) -> Any:
    return None if isinstance(value, str) and not value.strip() else value


def _name(value: str) -> str:
    value = " ".join(value.split())
    if len(value) > 200 or _CONTROL.search(value):
        raise _refuse("name_invalid", "at most 200 characters, no control characters")
    return value


def _email(value: str) -> str:
    value = value.strip()
    if len(value) > 254 or not _EMAIL.fullmatch(value):
        raise _refuse("email_invalid", "not an email address")
    local, _, domain = value.rpartition("@")
    return f"{local}@{domain.lower()}"


def _phone(value: str) -> str:
    try:
        return phone_e164(value)
    except NumberRefused:
        raise _refuse("phone_number_invalid", "not a valid phone number") from None


def _whatsapp(value: str) -> str:
    try:
        return whatsapp_e164(value)
    except NumberRefused as refused:
        reason = "whatsapp_number_service_number" if refused.service_number else "whatsapp_number_invalid"
        raise _refuse(reason, "not a number WhatsApp can be on") from None


def _password_hash(value: str) -> str:
    if not _PASSWORD_HASH.fullmatch(value.strip()):
        raise _refuse("password_hash_unsupported", "only bcrypt ($2y$, $2b$, $2a$) and argon2id")
    return value.strip()


_BOOLEANS = {"true": True, "1": True, "false": False, "0": False, "": False}


def _verified(value: Any) -> bool:
    """A boolean, or how CSV writes one; nothing looser, so the schema and the check agree."""
    if value is None or isinstance(value, bool):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _BOOLEANS:
        return _BOOLEANS[value.strip().lower()]
    raise _refuse("whatsapp_verified_invalid", "true or false")


def _jss_time(value: Any, info: ValidationInfo) -> int:
    try:
        moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value).strip())
    except ValueError:
        raise _refuse("updated_at_invalid", "not an ISO 8601 time") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=WIB)
    at_ms = int(moment.timestamp() * 1000)
    now = (info.context or {}).get("now") or time.time()
    if at_ms > now * 1000 + FUTURE_TOLERANCE_MS:
        raise _refuse("updated_at_in_future", "more than a day ahead of this service's clock")
    return at_ms


# The JSON Schemas (docs/schemas/) describe what JSS sends, not what the validators turn it into.
_TYPED_NUMBER = {"type": "string", "examples": ["0812-3456-7890", "+62 812 3456 7890", "6281234567890"]}
_NOTHING = [{"type": "string", "maxLength": 0}, {"type": "null"}]
AccountId = Annotated[
    str, AfterValidator(_account_id), WithJsonSchema({"type": "string", "pattern": f"^{_ACCOUNT_ID.pattern}$"})
]
Name = Annotated[
    str | None,
    BeforeValidator(_blank_is_none),
    AfterValidator(lambda v: (v and _name(v)) or None),
    WithJsonSchema({"anyOf": [{"type": "string", "maxLength": 200}, {"type": "null"}]}),
]
Email = Annotated[
    str | None,
    BeforeValidator(_blank_is_none),
    AfterValidator(lambda v: v and _email(v)),
    WithJsonSchema({"anyOf": [{"type": "string", "format": "email"}, *_NOTHING]}),
]
Phone = Annotated[str, AfterValidator(_phone), WithJsonSchema(_TYPED_NUMBER)]
WhatsApp = Annotated[
    str | None,
    BeforeValidator(_blank_is_none),
    AfterValidator(lambda v: v and _whatsapp(v)),
    WithJsonSchema({"anyOf": [_TYPED_NUMBER, *_NOTHING]}),
]
PasswordHash = Annotated[
    str,
    AfterValidator(_password_hash),
    WithJsonSchema({"type": "string", "pattern": f"^(?:{_PASSWORD_HASH.pattern})$"}),
]
JssTime = Annotated[
    int,
    BeforeValidator(_jss_time),
    WithJsonSchema({"type": "string", "format": "date-time", "examples": ["2026-11-27T10:15:30.123+07:00"]}),
]
Verified = Annotated[
    bool,
    BeforeValidator(_verified),
    WithJsonSchema(
        {"anyOf": [{"type": "boolean"}, {"enum": ["true", "false", "TRUE", "FALSE", "1", "0", ""]}, {"type": "null"}]}
    ),
]


class _Record(BaseModel):
    # The values are personal data: an error (and any log that prints one) must not carry them.
    model_config = ConfigDict(str_strip_whitespace=True, frozen=True, hide_input_in_errors=True)


class JssAccountFields(_Record):
    """A whole account's data, as the ``account`` of an ``account.created`` message carries it."""

    model_config = ConfigDict(extra="forbid", title="JssAccountFields")

    name: Name = Field(default=None, description="The citizen's name.")
    email: Email = Field(default=None, description="The registered email; empty or absent when there is none.")
    phone_number: Phone = Field(description="The account's phone number, as typed (normalized to E.164).")
    whatsapp_number: WhatsApp = Field(default=None, description="The WhatsApp number; empty or absent when none.")
    whatsapp_verified: Verified = Field(default=False, description="True when JSS knows WhatsApp proved the number.")
    password_hash: PasswordHash = Field(description="bcrypt ($2y$, $2b$, $2a$) or argon2id, as JSS stores it.")

    @field_validator("whatsapp_verified")
    @classmethod
    def _verified_needs_a_number(cls, verified: bool, info: ValidationInfo) -> bool:
        if verified and not info.data.get("whatsapp_number"):
            raise _refuse("whatsapp_verified_without_number", "verified, but no WhatsApp number")
        return verified

    def fields(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "email": self.email,
            "phone_number": self.phone_number,
            **whatsapp_fields(self.whatsapp_number, self.whatsapp_verified),
            "password_hash": self.password_hash,
        }


class JssAccount(JssAccountFields):
    """A row of an export of the JSS user table: the account, its id and when it last changed."""

    model_config = ConfigDict(extra="ignore", title="JssExportRow")  # exports carry columns we do not keep

    account_id: AccountId = Field(description="The account id, the JWT sub of the JSS identity provider.")
    updated_at: JssTime = Field(description="When the row last changed in JSS (ISO 8601; WIB if no offset).")


def whatsapp_fields(number: str | None, verified: bool) -> dict[str, Any]:
    """The WhatsApp number and how it was verified change together, as one field."""
    if number is None:
        return {"whatsapp_number": None, "whatsapp_verified_via": None}
    return {"whatsapp_number": number, "whatsapp_verified_via": VerifiedVia.WHATSAPP if verified else VerifiedVia.JSS}


@dataclass(frozen=True)
class JssChange:
    """What one JSS record says about one account at one moment: the fields it carries (only those;
    ``whole`` when they are the whole account), or that the account is gone."""

    account_id: str
    at_ms: int
    fields: dict[str, Any] = field(default_factory=dict)
    whole: bool = False
    deleted: bool = False


@dataclass(frozen=True)
class Refusal:
    reason: str
    field: str | None = None


# The refusals this module raises itself; any other problem is "<field>_missing" or "<field>_invalid".
REFUSALS = frozenset(
    {
        "account_id_invalid",
        "name_invalid",
        "email_invalid",
        "phone_number_invalid",
        "whatsapp_number_invalid",
        "whatsapp_number_service_number",
        "whatsapp_verified_without_number",
        "password_hash_unsupported",
        "updated_at_invalid",
        "updated_at_in_future",
        "whatsapp_verified_invalid",
        "changes_empty",
    }
)


def refusal_of(error: ValidationError) -> Refusal:
    """The first problem of a refused record as a stable reason code and the field it concerns."""
    first = error.errors(include_url=False, include_input=False)[0]
    location = [
        str(part) for part in first["loc"] if not isinstance(part, int) and not str(part).startswith("account.")
    ]
    name = location[-1] if location else None
    kind = first["type"]
    if kind in REFUSALS:
        return Refusal(kind, name)
    if kind in {"union_tag_invalid", "union_tag_not_found"}:
        return Refusal("type_unknown", "type")
    if kind == "extra_forbidden":  # the name is the sender's, not ours: not in a reason or a log
        return Refusal("field_unknown", None)
    if kind == "missing":
        return Refusal(f"{name}_missing", name)
    return Refusal(f"{name}_invalid" if name else "record_malformed", name)


def read_account(row: dict[str, Any], now: float | None = None) -> JssChange:
    """Checks an export row. Raises ``ValidationError`` (see ``refusal_of``) when it is refused."""
    account = JssAccount.model_validate(row, context={"now": now})
    return JssChange(account.account_id, account.updated_at, account.fields(), whole=True)


# ----------------------------------------------------------------- sync messages


class _Message(_Record):
    model_config = ConfigDict(extra="forbid")

    message_id: str | None = Field(default=None, max_length=128, description="JSS's own id, for tracing only.")
    account_id: AccountId
    updated_at: JssTime = Field(description="When the change happened in JSS (ISO 8601; WIB if no offset).")


class AccountCreated(_Message):
    """A new JSS account (or an account JSS wants this service to take whole again)."""

    type: Literal["account.created"]
    account: JssAccountFields

    def change(self) -> JssChange:
        return JssChange(self.account_id, self.updated_at, self.account.fields(), whole=True)


class ContactChanges(_Record):
    model_config = ConfigDict(extra="forbid")

    name: Name = None
    email: Email = None
    phone_number: Phone | None = None  # absent: unchanged; never null, an account always has one
    whatsapp_number: WhatsApp = None
    whatsapp_verified: Verified = False

    @field_validator("phone_number", mode="before")
    @classmethod
    def _phone_cannot_be_removed(cls, value: Any) -> Any:
        if value is None:
            raise _refuse("phone_number_invalid", "an account keeps a phone number")
        return value

    @model_validator(mode="after")
    def _something_changed(self) -> ContactChanges:
        given = self.model_fields_set
        if "whatsapp_verified" in given and "whatsapp_number" not in given:
            raise _refuse("whatsapp_verified_without_number", "send whatsapp_number with whatsapp_verified")
        if self.whatsapp_verified and self.whatsapp_number is None:
            raise _refuse("whatsapp_verified_without_number", "verified, but no WhatsApp number")
        if not given:
            raise _refuse("changes_empty", "no field changed")
        return self


class ContactChanged(_Message):
    """Contact data changed in JSS: ``changes`` carries only the fields that changed (null or empty
    removes an email or a WhatsApp number)."""

    type: Literal["account.contact_changed"]
    changes: ContactChanges

    def change(self) -> JssChange:
        given = self.changes.model_fields_set
        fields: dict[str, Any] = {n: getattr(self.changes, n) for n in ("name", "email", "phone_number") if n in given}
        if "whatsapp_number" in given:
            fields.update(whatsapp_fields(self.changes.whatsapp_number, self.changes.whatsapp_verified))
        return JssChange(self.account_id, self.updated_at, fields)


class PasswordChanged(_Message):
    type: Literal["account.password_changed"]
    password_hash: PasswordHash

    def change(self) -> JssChange:
        return JssChange(self.account_id, self.updated_at, {"password_hash": self.password_hash})


class AccountDeleted(_Message):
    type: Literal["account.deleted"]

    def change(self) -> JssChange:
        return JssChange(self.account_id, self.updated_at, deleted=True)


SyncMessage = Annotated[AccountCreated | ContactChanged | PasswordChanged | AccountDeleted, Field(discriminator="type")]


@cache
def sync_messages() -> TypeAdapter[SyncMessage]:
    """Reads and checks one message of the account-sync queue (``docs/account-sync.md``)."""
    return TypeAdapter(SyncMessage)
