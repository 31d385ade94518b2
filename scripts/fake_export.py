"""Fake exports of the JSS user table, for developing and benchmarking ``scripts.import_accounts``.

    python -m scripts.fake_export --count 100000 --out export.csv
    python -m scripts.fake_export --count 5000 --out export.jsonl --duplicates 10 --invalid 25 --passwords pw.json

FAKE DATA ONLY: every name, address, number and password is made up from a seeded random generator;
nothing comes from JSS. Emails use domains reserved for examples, but the numbers are valid
Indonesian mobile numbers and so may belong to real people: never let a stack that sends WhatsApp
messages loose on an import of this file.

One account per row, in the columns of ``FIELDS``; the same seed and count always give the same
file. Password hashes come from a small pool (``password_pool``) whose passwords are known
(``pool_password``): hashing 100,000 passwords would take hours at bcrypt cost 10.
"""

from __future__ import annotations

import argparse
import base64
import csv
import itertools
import json
import random
import sys
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import bcrypt
import phonenumbers
from argon2 import PasswordHasher
from phonenumbers import PhoneNumberType

FIELDS = (
    "account_id",
    "name",
    "email",
    "phone_number",
    "whatsapp_number",
    "password_hash",
    "updated_at",
    "whatsapp_verified",
)
FORMATS = ("csv", "jsonl")
DEFAULT_SEED = 2026
PASSWORD_SHEET_ROWS = 20

GIVEN_NAMES = (
    "Budi", "Siti", "Agus", "Dewi", "Sri", "Bambang", "Nur", "Joko", "Slamet", "Eko",
    "Dwi", "Tri", "Wahyu", "Rina", "Endang", "Yuni", "Heru", "Hendra", "Andi", "Rizky",
    "Muhammad", "Ahmad", "Fajar", "Putri", "Ayu", "Indah", "Retno", "Wulan", "Rudi", "Hadi",
    "Teguh", "Yanto", "Ratna", "Kartika", "Fitri", "Nurul", "Anisa", "Dimas", "Bagus", "Galih",
    "Arif", "Taufik", "Rahmat", "Yusuf", "Ilham", "Aditya", "Bayu", "Satria", "Dian", "Novi",
    "Eni", "Suci", "Tutik", "Rini", "Yulia", "Mega", "Intan", "Sekar", "Laras", "Gilang",
    "Reza", "Fadli", "Hana", "Nadia", "Aulia", "Lina", "Susilo", "Wawan", "Danang", "Ika",
    "Umi", "Yoga", "Irfan", "Puji", "Tatik",
)  # fmt: skip
FAMILY_NAMES = (
    "Santoso", "Rahayu", "Wibowo", "Lestari", "Wahyuni", "Sutrisno", "Hidayah", "Setiawan", "Susanto", "Purnomo",
    "Prasetyo", "Nugroho", "Kurniawan", "Saputra", "Pratama", "Hidayat", "Wijaya", "Handayani", "Suryani", "Kusuma",
    "Rahmawati", "Hartono", "Gunawan", "Sulistyo", "Widodo", "Sugiarto", "Haryanto", "Utomo", "Cahyono", "Yulianto",
    "Mulyadi", "Sudarsono", "Wulandari", "Puspitasari", "Anggraini", "Maharani", "Fitriani", "Permatasari", "Ramadhan",
    "Firmansyah", "Hakim", "Nasution", "Siregar", "Simanjuntak", "Harahap", "Lubis", "Sinaga", "Siswanto", "Budiman",
    "Astuti", "Purwanto", "Subagyo", "Suparman", "Darmawan", "Hermawan", "Irawan", "Iskandar", "Syahputra",
    "Nurhayati", "Setyaningsih", "Wardhani", "Pangestu", "Sumarno", "Suwarni", "Kristanto", "Hutapea", "Tanjung",
    "Mahendra", "Ardiansyah", "Hasibuan",
)  # fmt: skip
# Older Javanese people often have one name only.
SINGLE_NAMES = (
    "Sutrisno", "Suparman", "Sumarni", "Wahyuni", "Slamet", "Sugiyono", "Tukiman", "Sumarno", "Suwarni", "Ngatini",
    "Mulyono", "Giyanto", "Sukirman", "Tumini", "Sarinah", "Wagiman", "Karsono", "Suyatmi", "Paiman", "Wartini",
)  # fmt: skip

# Mobile prefixes by operator, weighted by a rough market share spread over the operator's prefixes.
_OPERATOR_PREFIXES = (
    (45, ("0811", "0812", "0813", "0821", "0822", "0823", "0851", "0852", "0853")),  # Telkomsel
    (20, ("0814", "0815", "0816", "0855", "0856", "0857", "0858")),  # Indosat
    (13, ("0817", "0818", "0819", "0859", "0877", "0878")),  # XL
    (5, ("0831", "0832", "0833", "0838")),  # Axis
    (11, ("0895", "0896", "0897", "0898", "0899")),  # Three
    (6, ("0881", "0882", "0883", "0884", "0885", "0886", "0887", "0888", "0889")),  # Smartfren
)
MOBILE_PREFIXES = tuple(prefix for _, prefixes in _OPERATOR_PREFIXES for prefix in prefixes)
_PREFIX_CUM_WEIGHTS = tuple(
    itertools.accumulate(share / len(prefixes) for share, prefixes in _OPERATOR_PREFIXES for _ in prefixes)
)
# Digits of a national number with its leading 0: phonenumbers accepts 10 to 13 for these prefixes.
_NATIONAL_LENGTHS = (10, 11, 12, 13)
_NATIONAL_LENGTH_CUM_WEIGHTS = tuple(itertools.accumulate((3, 25, 60, 12)))
# How the digits after the four-digit prefix are grouped when people type separators.
_GROUPS = {6: (3, 3), 7: (3, 4), 8: (4, 4), 9: (3, 3, 3)}
_MOBILE_TYPES = {PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE}

# Only domains reserved for examples (RFC 2606), so no generated address can reach a real mailbox.
_MAIL_DOMAINS = ("example.com", "example.net", "example.org", "mail.example", "jss.example")
_MAIL_DOMAIN_CUM_WEIGHTS = tuple(itertools.accumulate((55, 20, 12, 10, 3)))

WIB = timezone(timedelta(hours=7), "WIB")
_FIRST_UPDATE = datetime(2019, 1, 1, tzinfo=WIB)
_LAST_UPDATE = datetime(2026, 10, 31, 23, 59, 59, tzinfo=WIB)

_SHARE_WITH_WHATSAPP = 0.55
_SHARE_WHATSAPP_IS_PHONE = 0.80
_SHARE_VERIFIED = 0.70
_SHARE_WITHOUT_EMAIL = 0.12
_SHARE_BCRYPT = 0.60
# Of the rows whose whatsapp_verified is false, the share that leaves it out in JSON Lines (~20% of all rows).
_SHARE_FALSE_UNSTATED = 1 / 3


# ----------------------------------------------------------------- password hashes


def pool_password(index: int) -> str:
    """The known password of the pool's hash number ``index``, e.g. ``Jogja-3-Istimewa``."""
    return f"Jogja-{index}-Istimewa"


@dataclass(frozen=True)
class PooledHash:
    index: int
    kind: str  # bcrypt or argon2id
    password: str
    password_hash: str


@dataclass(frozen=True)
class PasswordPool:
    """A few hashes of known passwords, shared by all rows: bcrypt as PHP writes it, then argon2id."""

    bcrypt: tuple[PooledHash, ...]
    argon2id: tuple[PooledHash, ...]

    def pick(self, rng: random.Random) -> PooledHash:
        kind = self.bcrypt if rng.random() < _SHARE_BCRYPT else self.argon2id
        return rng.choice(kind)

    def password_of(self, password_hash: str) -> str | None:
        """The password behind a hash of the pool; None for any other hash."""
        return next((h.password for h in (*self.bcrypt, *self.argon2id) if h.password_hash == password_hash), None)


# Standard base64 to the alphabet bcrypt writes its salt in.
_BCRYPT_BASE64 = bytes.maketrans(
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/",
    b"./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
)


def password_pool(per_kind: int = 8, *, bcrypt_rounds: int = 10, seed: int = DEFAULT_SEED) -> PasswordPool:
    """``per_kind`` bcrypt hashes (``$2y$``, cost ``bcrypt_rounds``) of passwords 0 .. per_kind-1 and
    ``per_kind`` argon2id hashes (argon2-cffi's defaults) of the next ones.

    The salts come from ``seed`` rather than the OS so that the same seed writes the same file; they
    only need to differ from each other, the passwords being public anyway."""
    rng = random.Random(f"password-pool:{seed}")  # noqa: S311 - fake data, not a secret
    argon2 = PasswordHasher()
    bcrypt_hashes = []
    for index in range(per_kind):
        password = pool_password(index)
        salt = b"$2b$%02d$" % bcrypt_rounds + base64.b64encode(rng.randbytes(16))[:22].translate(_BCRYPT_BASE64)
        php_hash = "$2y$" + bcrypt.hashpw(password.encode(), salt).decode()[4:]  # PHP writes $2y$ for $2b$
        bcrypt_hashes.append(PooledHash(index, "bcrypt", password, php_hash))
    argon2_hashes = []
    for index in range(per_kind, 2 * per_kind):
        password = pool_password(index)
        argon2_hash = argon2.hash(password, salt=rng.randbytes(argon2.salt_len))
        argon2_hashes.append(PooledHash(index, "argon2id", password, argon2_hash))
    return PasswordPool(tuple(bcrypt_hashes), tuple(argon2_hashes))


# ----------------------------------------------------------------- rows the importer must refuse


@dataclass(frozen=True)
class InvalidKind:
    field: str
    values: tuple[str, ...]


# Cycled through by ``--invalid``: each replaces one field of an otherwise good row.
INVALID_KINDS = (
    InvalidKind(
        "password_hash", ("5f4dcc3b5aa765d61d8327deb882cf99", "$1$O3JMY.Tw$AdLnLjQ/5jXF9.MTp3gHv/", "rahasia123")
    ),
    InvalidKind("phone_number", ("0812-345", "0812-ABCD-1234")),
    # Toll-free, premium-rate and call-centre numbers: valid, but no one's WhatsApp (README, "Which numbers").
    InvalidKind("whatsapp_number", ("0800-1-234567", "0809-1-234567", "1500-123")),
    InvalidKind("email", ("budi at example", "siti.rahayu@example", "agus wibowo@example.com")),
    InvalidKind("account_id", ("",)),
    InvalidKind("updated_at", ("kemarin", "2026-13-45")),
)


def _spread(how_many: int, count: int) -> list[int]:
    """``how_many`` distinct positions of ``count`` rows, evenly spaced (how_many <= count)."""
    return [(2 * k + 1) * count // (2 * how_many) for k in range(how_many)]


# ----------------------------------------------------------------- the rows


@dataclass
class FakeExport:
    """The rows of one fake export. ``rows()`` streams them; while it does, ``duplicate_positions``
    fills with the (0-based) rows made duplicates. Rows at ``invalid_positions`` are replaced by
    rows of ``INVALID_KINDS``, in turn."""

    count: int
    seed: int = DEFAULT_SEED
    duplicates: int = 0
    invalid: int = 0
    pool: PasswordPool | None = None
    invalid_positions: dict[int, InvalidKind] = field(init=False)
    duplicate_positions: list[int] = field(init=False, default_factory=list)

    def __post_init__(self) -> None:
        if min(self.count, self.duplicates, self.invalid) < 0:
            raise ValueError("count, duplicates and invalid cannot be negative")
        if self.invalid > self.count:
            raise ValueError(f"cannot make {self.invalid} of {self.count} rows invalid")
        if self.duplicates and self.duplicates + self.invalid >= self.count:
            raise ValueError(f"{self.count} rows leave no room for {self.duplicates} duplicates and the rows they copy")
        self.invalid_positions = {
            position: INVALID_KINDS[ordinal % len(INVALID_KINDS)]
            for ordinal, position in enumerate(_spread(self.invalid, self.count))
        }

    def refused(self, position: int) -> bool:
        """Whether the importer must refuse the row at ``position`` (once ``rows()`` has yielded it)."""
        return position in self.invalid_positions or position in self.duplicate_positions

    def rows(self) -> Iterator[dict[str, object]]:
        pool = self.pool or password_pool(seed=self.seed)
        citizens = _Citizens(random.Random(self.seed), pool)  # noqa: S311 - fake data, not a secret
        # Separate streams, so that asking for duplicates or invalid rows leaves every other row as it was.
        duplicate_rng = random.Random(f"duplicates:{self.seed}")  # noqa: S311 - fake data, not a secret
        due = [(k + 1) * self.count // (self.duplicates + 1) for k in range(self.duplicates)]
        taken_numbers: list[str] = []  # national digits of earlier good rows' WhatsApp numbers
        invalid_seen = 0
        self.duplicate_positions.clear()
        for position in range(self.count):
            row, whatsapp_digits = citizens.row(position)
            placed = len(self.duplicate_positions)
            if position in self.invalid_positions:
                self._spoil(row, self.invalid_positions[position], invalid_seen)
                invalid_seen += 1
            elif placed < len(due) and due[placed] <= position and taken_numbers:
                self._claim_earlier(row, taken_numbers, duplicate_rng)
                self.duplicate_positions.append(position)
            elif whatsapp_digits and self.duplicates:  # a duplicate due before any number is put off to here
                taken_numbers.append(whatsapp_digits)
            yield row
        if len(self.duplicate_positions) < self.duplicates:
            raise ValueError(f"too few rows with a WhatsApp number for {self.duplicates} duplicates")

    @staticmethod
    def _spoil(row: dict[str, object], kind: InvalidKind, invalid_seen: int) -> None:
        row[kind.field] = kind.values[invalid_seen // len(INVALID_KINDS) % len(kind.values)]
        if kind.field == "whatsapp_number":
            row["whatsapp_verified"] = False  # one problem per row: a verified service number would be two

    @staticmethod
    def _claim_earlier(row: dict[str, object], taken_numbers: list[str], rng: random.Random) -> None:
        # Typed anew: the importer must see through the form to the number.
        row["whatsapp_number"] = _typed(rng.choice(taken_numbers), rng)
        row["whatsapp_verified"] = rng.random() < _SHARE_VERIFIED


def generate(
    count: int, seed: int = DEFAULT_SEED, duplicates: int = 0, invalid: int = 0, *, pool: PasswordPool | None = None
) -> Iterator[dict[str, object]]:
    """``count`` rows (dicts in ``FIELDS`` order; None for an empty email or WhatsApp number, and for a
    ``whatsapp_verified`` left out). Raises ``ValueError`` at once for impossible counts."""
    return FakeExport(count, seed, duplicates, invalid, pool).rows()


class _Citizens:
    """Draws good rows from one random stream; every number and email it hands out is new to the file."""

    def __init__(self, rng: random.Random, pool: PasswordPool) -> None:
        self.rng = rng
        self.pool = pool
        self.numbers: set[str] = set()
        self.emails: set[str] = set()
        self.update_span = int((_LAST_UPDATE - _FIRST_UPDATE).total_seconds())

    def row(self, position: int) -> tuple[dict[str, object], str | None]:
        """The row and its WhatsApp number's national digits (None when it has none)."""
        rng = self.rng
        name = self._name()
        phone = self._new_mobile()
        whatsapp: str | None = None
        verified: bool | None = None
        if rng.random() < _SHARE_WITH_WHATSAPP:
            whatsapp = phone if rng.random() < _SHARE_WHATSAPP_IS_PHONE else self._new_mobile()
            verified = rng.random() < _SHARE_VERIFIED
        if not verified:
            verified = None if rng.random() < _SHARE_FALSE_UNSTATED else False
        row: dict[str, object] = {
            "account_id": f"jss-{position + 1:08d}",
            "name": name,
            "email": None if rng.random() < _SHARE_WITHOUT_EMAIL else self._new_email(name),
            "phone_number": _typed(phone, rng),
            "whatsapp_number": whatsapp and _typed(whatsapp, rng),
            "password_hash": self.pool.pick(rng).password_hash,
            "updated_at": self._updated_at(),
            "whatsapp_verified": verified,
        }
        return row, whatsapp

    def _name(self) -> str:
        rng = self.rng
        shape = rng.random()
        if shape < 0.10:
            parts = [rng.choice(SINGLE_NAMES)]
        elif shape < 0.80:
            parts = [rng.choice(GIVEN_NAMES), rng.choice(FAMILY_NAMES)]
        else:
            parts = [*rng.sample(GIVEN_NAMES, 2), rng.choice(FAMILY_NAMES)]
        name = " ".join(parts)
        return name.upper() if rng.random() < 0.05 else name  # as on the identity card

    def _new_mobile(self) -> str:
        """National digits (``08...``) of a valid mobile number no row has used yet."""
        rng = self.rng
        for _ in range(100):  # a clash or an invalid draw is rare: this never comes close
            prefix = rng.choices(MOBILE_PREFIXES, cum_weights=_PREFIX_CUM_WEIGHTS)[0]
            length = rng.choices(_NATIONAL_LENGTHS, cum_weights=_NATIONAL_LENGTH_CUM_WEIGHTS)[0]
            national = prefix + str(rng.randrange(10 ** (length - 4))).zfill(length - 4)
            if national in self.numbers:
                continue
            parsed = phonenumbers.PhoneNumber(country_code=62, national_number=int(national))  # parse() costs double
            if phonenumbers.is_valid_number(parsed) and phonenumbers.number_type(parsed) in _MOBILE_TYPES:
                self.numbers.add(national)
                return national
        raise RuntimeError("no new valid mobile number in 100 draws")

    def _new_email(self, name: str) -> str:
        rng = self.rng
        parts = name.lower().split()
        if len(parts) > 2 and rng.random() < 0.6:
            parts = [parts[0], parts[-1]]
        local = rng.choices((".", "", "_"), (55, 35, 10))[0].join(parts)
        if len(parts) == 1 or rng.random() < 0.35:
            local += str(rng.randrange(1960, 2008) if rng.random() < 0.5 else rng.randrange(1, 100))
        domain = rng.choices(_MAIL_DOMAINS, cum_weights=_MAIL_DOMAIN_CUM_WEIGHTS)[0]
        email = f"{local}@{domain}"
        attempt = 0
        while email in self.emails:  # a popular name: numbered like the mail provider would
            attempt += 1
            suffix = rng.randrange(1, 10_000) if attempt <= 5 else attempt
            email = f"{local}{suffix}@{domain}"
        self.emails.add(email)
        return email

    def _updated_at(self) -> str:
        rng = self.rng
        moment = _FIRST_UPDATE + timedelta(seconds=rng.randrange(self.update_span + 1))
        timespec = "seconds"
        if rng.random() < 0.10:
            moment += timedelta(milliseconds=rng.randrange(1000))
            timespec = "milliseconds"
        if rng.random() < 0.20:
            return moment.astimezone(UTC).isoformat(timespec=timespec).replace("+00:00", "Z")
        return moment.isoformat(timespec=timespec)


def _typed(national: str, rng: random.Random) -> str:
    """A mobile number (national digits, ``08...``) written the way JSS users typed it."""
    prefix, rest = national[:4], national[4:]
    groups, start = [], 0
    for size in _GROUPS[len(rest)]:
        groups.append(rest[start : start + size])
        start += size
    form = rng.random()
    if form < 0.45:
        return national
    if form < 0.60:
        return "-".join((prefix, *groups))
    if form < 0.67:
        return " ".join((prefix, *groups))
    if form < 0.77:
        return "+62" + national[1:]
    if form < 0.85:
        return " ".join(("+62", prefix[1:], *groups))
    if form < 0.89:
        return f"+62 {prefix[1:]}-{'-'.join(groups)}"
    if form < 0.98:
        return "62" + national[1:]  # copied from a WhatsApp id
    return " ".join(("62", prefix[1:], *groups))


# ----------------------------------------------------------------- files


def format_for(path: Path | str) -> str:
    """``csv`` or ``jsonl`` from the file's extension; ValueError for any other."""
    suffix = Path(path).suffix.lower()
    if suffix == ".csv":
        return "csv"
    if suffix in {".jsonl", ".ndjson"}:
        return "jsonl"
    raise ValueError(f"cannot tell the format of {path} from its extension: give --format csv or jsonl")


def write(rows: Iterable[dict[str, object]], path: Path | str, fmt: str) -> int:
    """Streams ``rows`` to ``path`` as CSV (header row; empty for None, ``true``/``false``) or JSON
    Lines (null for None; ``whatsapp_verified`` left out when None). Returns how many were written."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}: csv or jsonl")
    written = 0
    with Path(path).open("w", encoding="utf-8", newline="") as handle:
        if fmt == "csv":
            writer = csv.writer(handle)
            writer.writerow(FIELDS)
            for row in rows:
                writer.writerow([_csv_value(row, name) for name in FIELDS])
                written += 1
        else:
            for row in rows:
                stated = {key: value for key, value in row.items() if key != "whatsapp_verified" or value is not None}
                handle.write(json.dumps(stated, ensure_ascii=False) + "\n")
                written += 1
    return written


def _csv_value(row: dict[str, object], name: str) -> str:
    value = row[name]
    if name == "whatsapp_verified":
        return "true" if value else "false"  # the column is always there: left out means false
    return "" if value is None else str(value)


@dataclass
class _Tally:
    """What passes on the way to the file: for the summary line and the password sheet."""

    export: FakeExport
    pool: PasswordPool
    with_whatsapp: int = 0
    sheet: list[dict[str, str]] = field(default_factory=list)

    def watch(self, rows: Iterable[dict[str, object]]) -> Iterator[dict[str, object]]:
        for position, row in enumerate(rows):
            if row["whatsapp_number"] is not None:
                self.with_whatsapp += 1
            if len(self.sheet) < PASSWORD_SHEET_ROWS and not self.export.refused(position):
                password = self.pool.password_of(str(row["password_hash"]))
                if password is not None:
                    self.sheet.append(
                        {"account_id": str(row["account_id"]), "name": str(row["name"]), "password": password}
                    )
            yield row


# ----------------------------------------------------------------- command line


def _non_negative(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"{value} is negative")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m scripts.fake_export",
        description="Writes a FAKE export of the JSS user table (made-up citizens) for the account import.",
    )
    parser.add_argument("--count", type=_non_negative, required=True, help="rows to write")
    parser.add_argument("--out", type=Path, required=True, help="the file to write (.csv or .jsonl)")
    parser.add_argument("--format", choices=FORMATS, help="default: from the extension of --out")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help=f"same seed, same file (default {DEFAULT_SEED})")
    parser.add_argument(
        "--duplicates", type=_non_negative, default=0, help="rows claiming an earlier row's WhatsApp number"
    )
    parser.add_argument("--invalid", type=_non_negative, default=0, help="rows the importer must refuse")
    parser.add_argument(
        "--passwords",
        type=Path,
        help=f"also write the passwords of the first {PASSWORD_SHEET_ROWS} rows the importer accepts (JSON)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    started = time.perf_counter()
    try:
        fmt = args.format or format_for(args.out)
        export = FakeExport(args.count, args.seed, args.duplicates, args.invalid)
    except ValueError as error:
        parser.error(str(error))
    export.pool = pool = password_pool(seed=args.seed)  # after the checks: hashing takes a second
    tally = _Tally(export, pool)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    written = write(tally.watch(export.rows()), args.out, fmt)
    if args.passwords:
        args.passwords.parent.mkdir(parents=True, exist_ok=True)
        args.passwords.write_text(json.dumps(tally.sheet, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(
        f"fake_export: {written} rows to {args.out} ({fmt}), {tally.with_whatsapp} with a WhatsApp number, "
        f"{len(export.invalid_positions)} invalid, {len(export.duplicate_positions)} duplicates, "
        f"{time.perf_counter() - started:.1f} s",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
