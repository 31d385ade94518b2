"""The SnapStart hooks (``shared.snapstart``): registered with the runtime's own library, priming
without a single AWS call, and a fresh random seed after each restore."""

from __future__ import annotations

import random
import sys
from typing import Any

import botocore.client
import pytest
import snapshot_restore_py

from shared import services, snapstart
from shared.adapters import keys


@pytest.fixture(autouse=True)
def _fresh_secret_clients() -> Any:
    """Priming makes the Parameters clients; later tests must make theirs under their own mocks."""
    yield
    keys._ssm.cache_clear()
    keys._secrets_manager.cache_clear()


def test_the_hooks_are_registered_with_the_runtime_library_when_a_function_starts() -> None:
    # shared.services registered them when the suite imported it, as every function's init does.
    # The runtime keeps (function, args, kwargs) and calls each at its moment.
    assert (snapstart.prime, (), {}) in snapshot_restore_py.get_before_snapshot()
    assert (snapstart.reseed, (), {}) in snapshot_restore_py.get_after_restore()


def test_without_the_runtime_library_nothing_is_registered(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "snapshot_restore_py", None)  # what an absent module looks like
    assert snapstart.register() is False


def test_priming_loads_the_lazy_modules_and_makes_the_clients_without_calling_aws(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[str] = []

    def refuse(_client: Any, operation: str, _params: Any) -> None:
        calls.append(operation)
        raise AssertionError(f"{operation} called before the snapshot")

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", refuse)
    monkeypatch.setenv("TOKEN_HMAC_KEY_PARAMETER", "/prod/token-hmac-key")
    monkeypatch.setenv("NUMBER_HASH_KEY_SECRET_ID", "number-hash-key")
    for name in snapstart.LAZY_MODULES:
        monkeypatch.delitem(sys.modules, name, raising=False)

    snapstart.prime()

    assert calls == []
    assert all(name in sys.modules for name in snapstart.LAZY_MODULES)
    assert services.dynamo()._client is not None
    assert services.mailer()._client is not None


def test_a_restored_environment_draws_other_jitter_than_the_snapshot() -> None:
    random.seed(2026)  # the state every environment restored from one snapshot would share
    in_the_snapshot = [random.random() for _ in range(3)]
    random.seed(2026)
    snapstart.reseed()
    assert [random.random() for _ in range(3)] != in_the_snapshot
