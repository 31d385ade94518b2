"""The figures ``make bench`` prints, each against its target (issue 11)."""

from __future__ import annotations

from scripts.bench.cold import ColdStart
from scripts.bench.package import Size
from scripts.bench.stats import Pair
from scripts.bench.warm import Step

# Lambda gives a function one full vCPU at 1769 MB, and CPU in proportion below that.
_FULL_VCPU_MB = 1769
# Issue 11: B1.4 made 13 calls where 9 do the work; a webhook delivery that binds made 7 (Powertools
# Idempotency's two included), one fewer is the target; link pages: below. Issue 13 adds one call
# of new work to each: the old number's warning (B1.4) and the reply (webhook), put on the queue.
_TARGET_CALLS = {"B1.4 confirm password": 10, "A webhook binding": 7, "B1 webhook binding": 7}


class _Verdicts:
    def __init__(self) -> None:
        self.all_met = True

    def __call__(self, met: bool) -> str:
        self.all_met &= met
        return "met" if met else "MISSED"


def print_all(
    layer: Size, cold_starts: list[ColdStart], steps: list[Step], dummy: Pair, bcrypt_cpu: float, local: dict[str, Pair]
) -> bool:
    verdict = _Verdicts()
    unzipped, zipped = layer.mb()
    print("\nLayer (arm64, as sam build makes it)")
    print(f"  {unzipped:.1f} MB unzipped (target <= 70), {zipped:.1f} MB zipped (target <= 30): "
          f"{verdict(unzipped <= 70 and zipped <= 30)}")  # fmt: skip
    largest = list(layer.parts.items())[:8]
    print("  of which " + ", ".join(f"{name} {size / 1e6:.1f}" for name, size in largest) + " MB")

    print("\nCold start as deployed: import, then the main route's first request")
    print("  (floor: import boto3, make one DynamoDB client, one GetItem, in the same sandbox)")
    print(f"  {'function':<26}{'cold ms':>9}{'floor ms':>10}{'ratio':>7}{'import ratio':>14}  target <= 1.25")
    for start in cold_starts:
        ratio = start.total.ratio
        print(f"  {start.function:<26}{start.total.ms('measured'):>9.0f}{start.total.ms('floor'):>10.0f}"
              f"{ratio:>7.2f}{start.imported.ratio:>14.2f}  {verdict(ratio <= 1.25)}")  # fmt: skip
    print("\n  With SnapStart (the template's switch): from a restore to the answer, against the same floor")
    print("  (Lambda's restore itself comes on top and cannot be measured here)")
    for start in cold_starts:
        ratio = start.restored.ratio
        print(f"  {start.function:<26}{start.restored.ms('measured'):>9.0f}{start.restored.ms('floor'):>10.0f}"
              f"{ratio:>7.2f}  {verdict(ratio <= 1.25)}")  # fmt: skip

    print("\nWarm journey steps: handler time against the same AWS calls sent raw, and the count of calls")
    print(f"  {'step':<32}{'ms':>7}{'floor ms':>10}{'ratio':>7}{'calls':>7}  target")
    for step in steps:
        targets = []
        if step.name.startswith(("A1 ", "B1.1 ")):
            targets.append(("ratio <= 1.5", step.pair.ratio <= 1.5))
        if "link page" in step.name:
            targets.append(("calls <= 2", len(step.calls) <= 2))
        if step.name in _TARGET_CALLS:
            limit = _TARGET_CALLS[step.name]
            targets.append((f"calls <= {limit}", len(step.calls) <= limit))
        judged = ", ".join(f"{text} {verdict(ok)}" for text, ok in targets)
        print(f"  {step.name:<32}{step.pair.ms('measured'):>7.1f}{step.pair.ms('floor'):>10.1f}"
              f"{step.pair.ratio:>7.2f}{len(step.calls):>7}  {judged}")  # fmt: skip
    for step in steps:
        print(f"    {step.name}: {', '.join(step.calls)}")

    print("\nPassword check of an account without a usable hash (dummy) against a stored bcrypt hash of cost 10")
    print(f"  dummy {dummy.ms('measured'):.1f} ms, real {dummy.ms('floor'):.1f} ms, ratio {dummy.ratio:.2f} "
          f"(target 0.8-1.25): {verdict(0.8 <= dummy.ratio <= 1.25)}")  # fmt: skip
    print(f"  one check takes {1000 * bcrypt_cpu:.0f} ms of CPU here; on Lambda, CPU grows with memory:")
    for memory in (512, 1024, 1769):
        print(f"    {memory:>5} MB: ~{1000 * bcrypt_cpu * _FULL_VCPU_MB / min(memory, _FULL_VCPU_MB):.0f} ms")

    print("\nLocal gateway (make run): GET /v1/contact p50 against a route the gateway answers itself")
    for label, pair in local.items():
        judged = f"(target <= 5): {verdict(pair.ratio <= 5)}" if label == "new connection" else "(reported)"
        print(f"  {label:<15} contact {pair.ms('measured'):.2f} ms, gateway-only {pair.ms('floor'):.2f} ms, "
              f"ratio {pair.ratio:.1f} {judged}")  # fmt: skip
    print("\nEvery target met." if verdict.all_met else "\nSome targets missed.")
    return verdict.all_met
