"""Demo accounts for the local stack. Their passwords are listed by ``GET /__dev/accounts``: local only."""

from __future__ import annotations

from dataclasses import dataclass

import bcrypt
from argon2 import PasswordHasher

from shared.domain.accounts import Account, AccountRegistry


@dataclass(frozen=True)
class DemoAccount:
    account_id: str
    name: str
    email: str | None
    phone_number: str | None
    whatsapp_number: str | None
    password: str
    hash_kind: str  # "bcrypt-2y" as Laravel writes it, or "argon2id"


DEMO_ACCOUNTS = [
    DemoAccount(
        "jss-1001", "Budi Santoso", "budi.santoso@example.com", "+6281234567890", None, "Malioboro#2020", "bcrypt-2y"
    ),
    DemoAccount(
        "jss-1002",
        "Siti Rahayu",
        "siti.rahayu@example.com",
        "+6285712345678",
        "+6285712345678",
        "Tugu-Jogja-1756",
        "argon2id",
    ),
    DemoAccount(
        "jss-1003", "Agus Wibowo", "agus.wibowo@example.com", "+6281390001234", None, "Kraton!Ngayogyakarta", "argon2id"
    ),
    DemoAccount("jss-1004", "Dewi Lestari", None, "+6287712340000", "+6287712340000", "Prawirotaman_88", "bcrypt-2y"),
]


def password_hash(password: str, kind: str) -> str:
    if kind == "argon2id":
        return PasswordHasher().hash(password)
    # Laravel's Hash::make writes $2y$; the algorithm is bcrypt's $2b$.
    return "$2y$" + bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=10)).decode()[4:]


def seed(registry: AccountRegistry) -> None:
    for demo in DEMO_ACCOUNTS:
        registry.save(
            Account(
                account_id=demo.account_id,
                name=demo.name,
                email=demo.email,
                phone_number=demo.phone_number,
                whatsapp_number=demo.whatsapp_number,
                whatsapp_verified_via="whatsapp" if demo.whatsapp_number else None,
                password_hash=password_hash(demo.password, demo.hash_kind),
            )
        )


def listing(registry: AccountRegistry | None = None) -> list[dict[str, object]]:
    """The demo accounts with their passwords and, given a registry, their numbers as they are now."""
    rows: list[dict[str, object]] = []
    for demo in DEMO_ACCOUNTS:
        current = registry.get(demo.account_id) if registry else None
        rows.append(
            {
                "id": demo.account_id,
                "name": demo.name,
                "email": demo.email,
                "phone_number": current.phone_number if current else demo.phone_number,
                "whatsapp_number": current.whatsapp_number if current else demo.whatsapp_number,
                "password": demo.password,
                "password_hash": demo.hash_kind,
            }
        )
    return rows


def describe(account: Account) -> dict[str, object]:
    """Any account of the stack as the console lists it; the password of a demo account, if it is one
    (an imported account's password is known to its export's generator, not here)."""
    demo = next((d for d in DEMO_ACCOUNTS if d.account_id == account.account_id), None)
    hash_kind = "argon2id" if (account.password_hash or "").startswith("$argon2") else "bcrypt"
    return {
        "id": account.account_id,
        "name": account.name or account.account_id,
        "email": account.email,
        "phone_number": account.phone_number,
        "whatsapp_number": account.whatsapp_number,
        "password": demo.password if demo else None,
        "password_hash": demo.hash_kind if demo else hash_kind,
    }
