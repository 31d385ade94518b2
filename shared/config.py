"""Settings read from the environment once per container.

Table names and public addresses come from ``template.yaml`` on AWS and from the local runner's
documented defaults on a developer machine; the tunables have production defaults.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cache


def _int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


@dataclass(frozen=True)
class Settings:
    accounts_table: str
    tokens_table: str
    audit_table: str
    idempotency_table: str
    outbox_table: str
    event_bus_name: str
    public_base_url: str
    whatsapp_business_number: str
    whatsapp_phone_number_id: str
    mail_from: str
    mail_configuration_set: str | None
    flow_ttl_seconds: int
    flow_start_limit: int
    flow_start_window_seconds: int
    result_view_seconds: int
    password_tries_per_flow: int
    password_tries_per_account: int
    password_window_seconds: int
    password_lock_seconds: int
    email_code_ttl_seconds: int
    email_code_resend_seconds: int
    email_codes_per_hour: int
    email_code_tries: int
    change_token_ttl_seconds: int
    outbox_stranded_after_seconds: int
    whatsapp_outbox_queue_url: str
    whatsapp_graph_url: str
    whatsapp_graph_version: str
    number_changed_template: str
    number_restored_template: str
    whatsapp_template_language: str
    undo_ttl_seconds: int
    undo_block_seconds: int

    @classmethod
    def from_environment(cls) -> Settings:
        env = os.environ
        return cls(
            accounts_table=env["ACCOUNTS_TABLE"],
            tokens_table=env["TOKENS_TABLE"],
            audit_table=env["AUDIT_TABLE"],
            idempotency_table=env["IDEMPOTENCY_TABLE"],
            outbox_table=env["OUTBOX_TABLE"],
            event_bus_name=env.get("EVENT_BUS_NAME", "default"),
            public_base_url=env["PUBLIC_BASE_URL"].rstrip("/"),
            # E.164 whichever way it was written (with or without the plus), compared as such.
            whatsapp_business_number="+" + env["WHATSAPP_BUSINESS_NUMBER"].strip().lstrip("+"),
            whatsapp_phone_number_id=env["WHATSAPP_PHONE_NUMBER_ID"],
            mail_from=env.get("MAIL_FROM", "no-reply@jss.jogjakota.go.id"),
            mail_configuration_set=env.get("MAIL_CONFIGURATION_SET") or None,
            flow_ttl_seconds=_int("FLOW_TTL_SECONDS", 600),
            flow_start_limit=_int("FLOW_START_LIMIT", 5),
            flow_start_window_seconds=_int("FLOW_START_WINDOW_SECONDS", 600),
            result_view_seconds=_int("RESULT_VIEW_SECONDS", 1800),
            password_tries_per_flow=_int("PASSWORD_TRIES_PER_FLOW", 5),
            password_tries_per_account=_int("PASSWORD_TRIES_PER_ACCOUNT", 10),
            password_window_seconds=_int("PASSWORD_WINDOW_SECONDS", 3600),
            password_lock_seconds=_int("PASSWORD_LOCK_SECONDS", 900),
            email_code_ttl_seconds=_int("EMAIL_CODE_TTL_SECONDS", 600),
            email_code_resend_seconds=_int("EMAIL_CODE_RESEND_SECONDS", 60),
            email_codes_per_hour=_int("EMAIL_CODES_PER_HOUR", 5),
            email_code_tries=_int("EMAIL_CODE_TRIES", 5),
            change_token_ttl_seconds=_int("CHANGE_TOKEN_TTL_SECONDS", 600),
            # Long enough that the stream's own retries are over before the sweep steps in.
            outbox_stranded_after_seconds=_int("OUTBOX_STRANDED_AFTER_SECONDS", 120),
            whatsapp_outbox_queue_url=env.get("WHATSAPP_OUTBOX_QUEUE_URL", ""),
            whatsapp_graph_url=env.get("WHATSAPP_GRAPH_URL", "https://graph.facebook.com"),
            whatsapp_graph_version=env.get("WHATSAPP_GRAPH_VERSION", "v23.0"),
            number_changed_template=env.get("WHATSAPP_NUMBER_CHANGED_TEMPLATE", "jss_nomor_whatsapp_diganti"),
            number_restored_template=env.get("WHATSAPP_NUMBER_RESTORED_TEMPLATE", "jss_nomor_whatsapp_dipulihkan"),
            whatsapp_template_language=env.get("WHATSAPP_TEMPLATE_LANGUAGE", "id"),
            # "Bukan saya" works for a week after a change, then blocks number changes for a day.
            undo_ttl_seconds=_int("UNDO_TTL_SECONDS", 7 * 24 * 3600),
            undo_block_seconds=_int("UNDO_BLOCK_SECONDS", 24 * 3600),
        )


@cache
def settings() -> Settings:
    return Settings.from_environment()
