"""``make bench``: what a citizen waits for and what the city pays for, as ratios against floors
measured side by side in the same run (see ``scripts/bench/__init__.py``)."""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# The bench's stack must not take the place of a `make run` in the state file local tools read.
os.environ.setdefault("LOCAL_STACK_STATE", str(ROOT / ".bench" / "local-stack.json"))

from devserver import services, template  # noqa: E402
from devserver.stack import LocalStack  # noqa: E402
from scripts.bench import cold, gateway, package, passwords, report, warm  # noqa: E402

# The secrets the template reads from SSM; the number-hash key comes from Secrets Manager.
DEPLOYED_PARAMETERS = ("TOKEN_HMAC_KEY", "WHATSAPP_APP_SECRET", "WHATSAPP_VERIFY_TOKEN", "WHATSAPP_ACCESS_TOKEN")


def deployed_secrets(stack: LocalStack) -> dict[str, str]:
    """The secrets where the template keeps them (SSM, and Secrets Manager for the number-hash key),
    in moto; returns the variables that name them instead of carrying the values."""
    ssm = services.client("ssm", stack.moto.endpoint)
    secrets_manager = services.client("secretsmanager", stack.moto.endpoint)
    names: dict[str, str] = {}
    for name in DEPLOYED_PARAMETERS:
        parameter = f"/bench/{name.lower()}"
        ssm.put_parameter(Name=parameter, Value=os.environ[name], Type="SecureString", Overwrite=True)
        names[f"{name}_PARAMETER"] = parameter
    secret = secrets_manager.create_secret(Name="bench/number-hash-key", SecretString=os.environ["NUMBER_HASH_KEY"])
    names["NUMBER_HASH_KEY_SECRET_ID"] = secret["ARN"]
    return names


def lambda_base_environment(stack: LocalStack) -> dict[str, str]:
    """The functions' variables as deployed, pointed at DynamoDB Local and moto (no fault proxies)."""
    base = {
        key: value
        for key, value in stack.configure_environment().items()
        if not key.startswith("POWERTOOLS_") or key == "POWERTOOLS_METRICS_NAMESPACE"
    }
    for name in (
        "TOKEN_HMAC_KEY",
        "NUMBER_HASH_KEY",
        "WHATSAPP_APP_SECRET",
        "WHATSAPP_VERIFY_TOKEN",
        "WHATSAPP_ACCESS_TOKEN",
    ):
        base.pop(name, None)
        base.pop(f"{name}_PARAMETER", None)
    base.update(deployed_secrets(stack))
    base.update(
        {
            "AWS_ENDPOINT_URL_DYNAMODB": stack.dynamodb.endpoint,
            "AWS_ENDPOINT_URL_SESV2": stack.moto.endpoint,
            "AWS_ENDPOINT_URL_SSM": stack.moto.endpoint,
            "AWS_ENDPOINT_URL_SECRETS_MANAGER": stack.moto.endpoint,
        }
    )
    return base


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cold-rounds", type=int, default=11, help="interleaved rounds of cold starts")
    parser.add_argument("--warm-rounds", type=int, default=25, help="rounds of every journey, warm")
    parser.add_argument("--gateway-rounds", type=int, default=300, help="interleaved local gateway requests")
    parser.add_argument("--profile", metavar="FUNCTION", help="profile one cold start of FUNCTION instead")
    arguments = parser.parse_args()

    started = time.monotonic()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}", flush=True)
    layer = package.layer_size()
    deployments = package.deploy_locally(list(template.functions(template.load())))
    stack = LocalStack(port=services.free_port(), quiet=True)
    stack.start()
    try:
        for poller in stack.pollers:  # background streams and schedules would only add noise
            poller.stop()
        base = lambda_base_environment(stack)
        if arguments.profile:
            print(cold.profile(arguments.profile, deployments[arguments.profile], base))
            return 0
        print("cold starts...", flush=True)
        cold_starts = cold.run(deployments, base, {"pk": {"S": "ACCOUNT#jss-1001"}}, arguments.cold_rounds)
        print("warm journeys...", flush=True)
        steps = warm.run(arguments.warm_rounds)
        print("password checks...", flush=True)
        dummy, bcrypt_cpu = passwords.run(arguments.warm_rounds)
        print("local gateway...", flush=True)
        local = gateway.run(stack.port, stack.authorizer.issue("jss-1002"), arguments.gateway_rounds)
    finally:
        stack.stop()
    met = report.print_all(layer, cold_starts, steps, dummy, bcrypt_cpu, local)
    print(f"({time.monotonic() - started:.0f} s)")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
