"""Everything ``make run`` starts, in order, and stops in reverse."""

from __future__ import annotations

import json
import os
import threading
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from devserver import console, event_sources, faults, graph_api, meta, seed, services, template
from devserver.authorizer import LocalAuthorizer
from devserver.gateway import FunctionPool, Gateway, LocalResponse, Request, json_response, serve
from devserver.jss_side import LocalJss
from shared.domain.phone import NumberRefused, phone_e164

# Where a running stack tells local tools about itself (LOCAL_STACK_STATE moves it, as the tests do).
STATE_FILE = Path(os.environ.get("LOCAL_STACK_STATE") or template.ROOT / ".run" / "local-stack.json")

# Documented local defaults; any of them can be overridden from the environment.
LOCAL_DEFAULTS = {
    "WHATSAPP_APP_SECRET": "local-whatsapp-app-secret",
    "WHATSAPP_VERIFY_TOKEN": "local-verify-token",
    "WHATSAPP_PHONE_NUMBER_ID": "100000000000001",
    "WHATSAPP_BUSINESS_NUMBER": "+6281100000000",
    "TOKEN_HMAC_KEY": "local-only-token-hmac-key",
    "NUMBER_HASH_KEY": "local-only-number-hash-key",
    "MAIL_FROM": "no-reply@jss.jogjakota.go.id",
    "JWT_AUDIENCE": "jss-app",
    "WHATSAPP_ACCESS_TOKEN": "local-whatsapp-access-token",
}


def local_setting(name: str) -> str:
    """A documented local default, or what the environment overrides it with."""
    return os.environ.get(name, LOCAL_DEFAULTS[name])


class _TextOfHtml(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []

    def handle_data(self, data: str) -> None:
        self.parts.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag in {"p", "div", "br", "li", "h1", "h2"}:
            self.parts.append("\n\n")


def html_to_text(document: str) -> str:
    parser = _TextOfHtml()
    parser.feed(document)
    return "".join(parser.parts).strip()


class LocalStack:
    def __init__(self, host: str = "127.0.0.1", port: int = 3000, quiet: bool = False) -> None:
        self.host = host
        self.port = port
        self.quiet = quiet
        self.base_url = os.environ.get("PUBLIC_BASE_URL", f"http://{host}:{port}").rstrip("/")
        self.dynamodb = services.DynamoDBLocal(int(os.environ.get("DYNAMODB_LOCAL_PORT") or services.free_port()))
        self.moto = services.MotoServer(int(os.environ.get("MOTO_PORT") or services.free_port()))
        # What the functions reach DynamoDB and SES through, so /__dev/faults can make them fail.
        self.dynamodb_proxy = faults.FaultProxy(
            "dynamodb", self.dynamodb.endpoint, services.free_port(), faults.DYNAMODB_FAULTS
        )
        self.ses_proxy = faults.FaultProxy("ses", self.moto.endpoint, services.free_port(), faults.SES_FAULTS)
        # Meta's Graph API, which WhatsAppSenderFunction sends the city's messages to.
        self.graph_api = graph_api.GraphApiEmulator(
            local_setting("WHATSAPP_PHONE_NUMBER_ID"),
            local_setting("WHATSAPP_ACCESS_TOKEN"),
            services.free_port(),
        )
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self.pollers: list[event_sources.Poller] = []
        self.pools: dict[str, FunctionPool] = {}
        self.jss: LocalJss | None = None

    def configure_environment(self) -> dict[str, str]:
        """Sets the variables the handlers read, as SAM would set them, pointed at the local services,
        in this process too (seeding and the dev routes run the shared code here, and must reach the
        services directly); returns the functions' own: DynamoDB and SES through the fault proxies."""
        config = {key: local_setting(key) for key in LOCAL_DEFAULTS}
        parameters = {
            "Stage": "local",
            "PublicBaseUrl": self.base_url,
            "WhatsAppBusinessNumber": config["WHATSAPP_BUSINESS_NUMBER"],
            "WhatsAppPhoneNumberId": config["WHATSAPP_PHONE_NUMBER_ID"],
            "MailFrom": config["MAIL_FROM"],
            "NumberChangedTemplateName": "jss_nomor_whatsapp_diganti",
            "NumberRestoredTemplateName": "jss_nomor_whatsapp_dipulihkan",
            "WhatsAppTemplateLanguage": "id",
            "LogLevel": os.environ.get("LOG_LEVEL", "INFO"),
        }
        parsed = template.load()
        environment = template.global_environment(parsed, parameters)
        environment.update(config)
        environment.update(
            {
                "AWS_ENDPOINT_URL_DYNAMODB": self.dynamodb.endpoint,
                "AWS_ENDPOINT_URL_SESV2": self.moto.endpoint,
                "AWS_ENDPOINT_URL_SQS": self.moto.endpoint,
                "AWS_ENDPOINT_URL_EVENTBRIDGE": self.moto.endpoint,
                # moto names a queue's URL after the endpoint, the account and the queue's name.
                "WHATSAPP_OUTBOX_QUEUE_URL": f"{self.moto.endpoint}/{services.LOCAL_ACCOUNT}/WhatsAppOutboxQueue",
                "WHATSAPP_GRAPH_URL": self.graph_api.endpoint,
                # A function's own variables are not read here (only Globals): the template's default.
                "WHATSAPP_GRAPH_VERSION": parsed["Parameters"]["WhatsAppGraphApiVersion"]["Default"],
                "AWS_DEFAULT_REGION": services.LOCAL_REGION,
                "AWS_REGION": services.LOCAL_REGION,
                "AWS_ACCESS_KEY_ID": "local",
                "AWS_SECRET_ACCESS_KEY": "local",
                "POWERTOOLS_SERVICE_NAME": "jss-whatsapp-local",
                "POWERTOOLS_TRACE_DISABLED": "true",
                # No CloudWatch here: metrics would only be printed.
                "POWERTOOLS_METRICS_DISABLED": "true",
                # Schedules run every LOCAL_SCHEDULE_SECONDS here, so the sweep may step in sooner.
                "OUTBOX_STRANDED_AFTER_SECONDS": os.environ.get("OUTBOX_STRANDED_AFTER_SECONDS", "10"),
            }
        )
        os.environ.update(environment)
        return {
            **environment,
            "AWS_ENDPOINT_URL_DYNAMODB": self.dynamodb_proxy.endpoint,
            "AWS_ENDPOINT_URL_SESV2": self.ses_proxy.endpoint,
        }

    def start(self) -> None:
        function_environment = self.configure_environment()
        self.dynamodb.start()
        self.moto.start()
        self.dynamodb_proxy.start()
        self.ses_proxy.start()
        self.graph_api.start()
        parsed = template.load()
        services.create_tables(self.dynamodb.endpoint, template.tables(parsed))
        ses = services.client("sesv2", self.moto.endpoint)
        ses.create_email_identity(EmailIdentity=os.environ["MAIL_FROM"])
        ses.create_configuration_set(ConfigurationSetName=os.environ["MAIL_CONFIGURATION_SET"])
        queues = services.create_queues(self.moto.endpoint, template.queues(parsed))
        for bus in template.event_buses(parsed):
            services.client("events", self.moto.endpoint).create_event_bus(Name=bus)

        from shared.services import accounts

        seed.seed(accounts())
        self.pools = FunctionPool.for_each(template.functions(parsed), function_environment)
        self.pollers = self._event_sources(parsed, queues)
        self.jss = LocalJss(self.moto.endpoint, os.environ["EVENT_BUS_NAME"], queues["AccountSyncQueue"])
        self.jss.start()
        self.authorizer = LocalAuthorizer(issuer=f"{self.base_url}/__dev", audience=os.environ["JWT_AUDIENCE"])
        gateway = Gateway(template.routes(parsed), self.authorizer, self.pools)
        gateway.add_dev_route("GET", "/__dev/accounts", self._accounts)
        gateway.add_dev_route("POST", "/__dev/token", self._issue_token)
        gateway.add_dev_route("GET", "/__dev/mailbox", self._mailbox)
        gateway.add_dev_route("POST", "/__dev/whatsapp/send", self._simulate_whatsapp)
        gateway.add_dev_route("GET", "/__dev/whatsapp/outbox", self.graph_api.outbox_route)
        gateway.add_dev_route("GET", "/__dev/whatsapp/attempts", self.graph_api.attempts_route)
        gateway.add_dev_route("GET", "/__dev/events", self.jss.events)
        gateway.add_dev_route("POST", "/__dev/jss/messages", self.jss.send_message)
        switchboard = faults.FaultSwitchboard(
            {
                "dynamodb": self.dynamodb_proxy,
                "ses": self.ses_proxy,
                "eventbridge": faults.EventBusSwitch(self.jss),
                "whatsapp": self.graph_api,
            }
        )
        gateway.add_dev_route("GET", "/__dev/faults", switchboard.show)
        gateway.add_dev_route("POST", "/__dev/faults", switchboard.change)
        console.register(gateway)
        self.gateway = gateway
        for poller in self.pollers:
            poller.start()
        self._server = serve(gateway, self.host, self.port, self.quiet)
        self._thread = threading.Thread(target=self._server.serve_forever, name="gateway", daemon=True)
        self._thread.start()
        self._write_state()

    def _event_sources(self, parsed: dict[str, Any], queues: dict[str, services.Queue]) -> list[event_sources.Poller]:
        """A poller per SQS, DynamoDB stream and schedule trigger of the template."""
        sqs = services.client("sqs", self.moto.endpoint)
        streams = services.client("dynamodbstreams", self.dynamodb.endpoint)
        dynamodb = services.client("dynamodb", self.dynamodb.endpoint)
        pollers: list[event_sources.Poller] = []
        for source in template.event_sources(parsed):
            pool = self.pools[source.function.name]
            if source.kind == "SQS" and source.source:
                queue = queues[source.source]
                pollers.append(event_sources.SqsPoller(source, pool, sqs, queue.url, queue.arn))
            elif source.kind == "DynamoDB" and source.source:
                stream = dynamodb.describe_table(TableName=source.source)["Table"]["LatestStreamArn"]
                failed_to = event_sources.on_failure_queue(source)

                def give_up(description: str, url: str | None = queues[failed_to].url if failed_to else None) -> None:
                    if url:
                        sqs.send_message(QueueUrl=url, MessageBody=description)

                pollers.append(event_sources.StreamPoller(source, pool, streams, stream, give_up))
            elif source.kind == "Schedule":
                pollers.append(event_sources.Schedule(source, pool))
        return pollers

    def _write_state(self) -> None:
        """Tells local tools (``make import``) where this stack is and how it hashes numbers, and the
        tests where its Graph API emulator listens."""
        shared = (
            "ACCOUNTS_TABLE",
            "NUMBER_HASH_KEY",
            "AWS_DEFAULT_REGION",
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
        )
        state = {
            "pid": os.getpid(),
            "base_url": self.base_url,
            "whatsapp_graph_url": self.graph_api.endpoint,
            "environment": {
                **{name: os.environ[name] for name in shared},
                "AWS_ENDPOINT_URL_DYNAMODB": self.dynamodb.endpoint,
            },
        }
        STATE_FILE.parent.mkdir(parents=True, exist_ok=True)
        STATE_FILE.write_text(json.dumps(state, indent=2))

    def stop(self) -> None:
        if STATE_FILE.exists() and json.loads(STATE_FILE.read_text()).get("pid") == os.getpid():
            STATE_FILE.unlink()
        for poller in self.pollers:
            poller.stop()
        if self.jss is not None:
            self.jss.stop()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        for pool in self.pools.values():
            pool.stop()
        self.graph_api.stop()
        self.ses_proxy.stop()
        self.dynamodb_proxy.stop()
        self.moto.stop()
        self.dynamodb.stop()

    def _accounts(self, request: Request) -> LocalResponse:
        """The demo accounts; ``?id=<account id>`` any account of the stack (an imported one, say)."""
        from shared.services import accounts

        wanted = parse_qs(request.query).get("id")
        if not wanted:
            return json_response(200, seed.listing(accounts()))
        account = accounts().get(wanted[0])
        if account is None:
            return json_response(404, {"message": "no such account"})
        return json_response(200, seed.describe(account))

    def _issue_token(self, request: Request) -> LocalResponse:
        try:
            body = request.json()
        except ValueError:
            body = None
        subject = body.get("sub") if isinstance(body, dict) else None
        if not isinstance(subject, str) or not subject:
            return json_response(422, {"message": 'body must be {"sub": "<account id>"}'})
        return json_response(200, {"token": self.authorizer.issue(subject)})

    def _simulate_whatsapp(self, request: Request) -> LocalResponse:
        """The console's 'Kirim': a Meta-format delivery, signed with the app secret, through the
        real webhook route. ``sender`` null plays a WhatsApp user who hides the number;
        ``{"share_number": "+62..."}`` plays that user tapping the city's contact request and sharing
        the number. Answers with the webhook's status: the message's ``message_id`` (the city's read
        receipt names it), the ``sender`` it came from (the number, the hidden number's user id, or
        the shared number, which the city answers), and the ``webhook``'s own answer."""
        try:
            sent = request.json()
            if not isinstance(sent, dict):
                raise TypeError
            sharing = "share_number" in sent
            field = "share_number" if sharing else "sender"
            text = "" if sharing else str(sent["text"])
            sender, forwarded = sent.get(field), bool(sent.get("forwarded"))
        except (ValueError, KeyError, TypeError):
            return json_response(
                422,
                {"message": 'body must be {"text": ..., "sender": "+62..." or null} or {"share_number": "+62..."}'},
            )
        number: str | None = None
        if sender is not None or sharing:
            try:  # any number WhatsApp could deliver from (README, "Which numbers")
                number = phone_e164(str(sender))
            except NumberRefused as refused:
                return json_response(422, {"message": f"{field} is not a phone number ({refused.kind})"})
        if sharing and number is not None:
            message = meta.shared_contact(number)  # the hidden sender taps the button: no text
        else:
            message = meta.text_message(text, number, forwarded=forwarded)
        body = json.dumps(meta.delivery(meta.value([message], os.environ["WHATSAPP_PHONE_NUMBER_ID"]))).encode()
        webhook = Request(
            method="POST",
            path="/whatsapp/webhook",
            query="",
            headers={
                "content-type": "application/json",
                "x-hub-signature-256": meta.signature(body, os.environ["WHATSAPP_APP_SECRET"]),
            },
            body=body,
            source_ip="127.0.0.1",
        )
        answer = self.gateway.handle(webhook)
        try:
            said = json.loads(answer.body or b"null")
        except ValueError:
            said = answer.body.decode(errors="replace")
        return json_response(
            answer.status,
            {"message_id": message["id"], "sender": number or message["from_user_id"], "webhook": said},
        )

    def _mailbox(self, _: Request) -> LocalResponse:
        messages = [
            {**{k: v for k, v in m.items() if k != "body"}, "text": html_to_text(m["body"]), "html": m["body"]}
            for m in self.moto.sent_messages()
        ]
        return json_response(200, messages)

    def banner(self) -> str:
        accounts = "\n".join(f"    {a['id']}  {a['name']:<14} password {a['password']}" for a in seed.listing())
        return (
            f"\nJSS WhatsApp service running on {self.base_url}\n"
            f"  Console:  {self.base_url}/  (all three journeys, WhatsApp simulator, mailbox)\n"
            f"  API docs: {self.base_url}/docs  ({self.base_url}/openapi.json)\n"
            f"  API routes from template.yaml, e.g. POST {self.base_url}/v1/migrations\n"
            f"  Demo accounts ({self.base_url}/__dev/accounts):\n{accounts}\n"
            f'  Token:    curl -s -X POST {self.base_url}/__dev/token -d \'{{"sub":"jss-1001"}}\'\n'
            f"  Mailbox:  {self.base_url}/__dev/mailbox\n"
            f"  Webhook:  {self.base_url}/whatsapp/webhook (app secret {os.environ['WHATSAPP_APP_SECRET']})\n"
            f"  JSS side: {self.base_url}/__dev/events (what JSS received), POST /__dev/jss/messages\n"
            f"  DynamoDB Local on {self.dynamodb.endpoint}; SES, SQS, EventBridge (moto) on {self.moto.endpoint}\n"
            f"  WhatsApp: the functions send through a Graph API emulator on {self.graph_api.endpoint} "
            f"(token {os.environ['WHATSAPP_ACCESS_TOKEN']})\n"
            f"            what it sent: {self.base_url}/__dev/whatsapp/outbox\n"
            f"  Faults:   the functions reach DynamoDB via {self.dynamodb_proxy.endpoint}, SES via "
            f"{self.ses_proxy.endpoint}; GET /__dev/faults, "
            f'curl -s -X POST {self.base_url}/__dev/faults -d \'{{"dynamodb":"down"}}\' '
            '(or \'{"whatsapp":"rate_limited","times":2}\')\n'
            "Press Ctrl-C to stop."
        )
