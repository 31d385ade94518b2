"""The domain services, wired once per container on first use.

Imports sit inside the factories so a function loads only what it uses (cold starts). Under Lambda
SnapStart they are loaded, and the clients made, before the snapshot instead (``shared.snapstart``).
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

from shared import snapstart
from shared.adapters.dynamo import Dynamo
from shared.config import settings

if TYPE_CHECKING:
    from shared.adapters.mail import Mailer
    from shared.adapters.whatsapp_outbox import WhatsAppOutbox
    from shared.domain.account_sync import AccountSync
    from shared.domain.accounts import AccountRegistry
    from shared.domain.change_events import ChangeEventRelay
    from shared.domain.email_change import EmailNumberChange
    from shared.domain.inbound import WebhookReceiver
    from shared.domain.undo.service import NumberChangeUndo
    from shared.domain.whatsapp_flows import WhatsAppFlows
    from shared.domain.whatsapp_sending import WhatsAppSender

snapstart.register()  # every function imports this module during its init, where the hooks belong


@cache
def dynamo() -> Dynamo:
    return Dynamo()


@cache
def mailer() -> Mailer:
    from shared.adapters.mail import Mailer

    config = settings()
    return Mailer(config.mail_from, configuration_set=config.mail_configuration_set)


@cache
def whatsapp_outbox() -> WhatsAppOutbox:
    from shared.adapters.whatsapp_outbox import WhatsAppOutbox

    return WhatsAppOutbox(settings().whatsapp_outbox_queue_url)


@cache
def whatsapp_sender() -> WhatsAppSender:
    import time

    from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

    from shared.adapters.keys import secret
    from shared.adapters.whatsapp_cloud import CloudApiConfig, WhatsAppCloud
    from shared.domain.whatsapp_sending import WhatsAppSender

    config = settings()
    api = CloudApiConfig(config.whatsapp_graph_url, config.whatsapp_graph_version, config.whatsapp_phone_number_id)
    cloud = WhatsAppCloud(api, lambda: secret("WHATSAPP_ACCESS_TOKEN"))
    # The sent keys live with the webhook's message ids, on the one DynamoDB client of the function.
    sent_keys = DynamoDBPersistenceLayer(table_name=config.idempotency_table, boto3_client=dynamo().client)
    return WhatsAppSender(cloud, sent_keys, time.time)


@cache
def accounts() -> AccountRegistry:
    from shared.domain.accounts import AccountRegistry

    return AccountRegistry(dynamo(), settings())


@cache
def whatsapp_flows() -> WhatsAppFlows:
    from shared.domain.whatsapp_flows import WhatsAppFlows

    return WhatsAppFlows(dynamo(), settings(), mailer(), outbox=whatsapp_outbox())


@cache
def webhook_receiver() -> WebhookReceiver:
    from shared.domain.inbound import WebhookReceiver

    return WebhookReceiver(whatsapp_flows(), settings(), whatsapp_outbox())


@cache
def email_number_change() -> EmailNumberChange:
    from shared.domain.email_change import EmailNumberChange

    return EmailNumberChange(dynamo(), settings(), mailer(), outbox=whatsapp_outbox())


@cache
def number_change_undo() -> NumberChangeUndo:
    from shared.domain.change_notices import ChangeNotices
    from shared.domain.undo.service import NumberChangeUndo

    config = settings()
    return NumberChangeUndo(dynamo(), config, ChangeNotices(mailer(), config, whatsapp_outbox()))


@cache
def change_event_relay() -> ChangeEventRelay:
    from shared.adapters.event_bus import EventBus
    from shared.domain.change_events import EVENT_SOURCE, ChangeEventRelay

    config = settings()
    bus = EventBus(config.event_bus_name, EVENT_SOURCE)
    return ChangeEventRelay(dynamo(), config.outbox_table, bus, config.outbox_stranded_after_seconds)


@cache
def account_sync() -> AccountSync:
    from shared.domain.account_mirror import AccountMirror
    from shared.domain.account_sync import AccountSync

    return AccountSync(AccountMirror(dynamo(), settings().accounts_table))
