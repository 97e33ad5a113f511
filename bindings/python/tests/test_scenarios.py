"""The shared scenario table (tests/scenarios/restore.json), in Python."""

import gc
import json
import os
from pathlib import Path

import pytest

from dsrestore import DsError, Runtime, codes
from dsrestore.testserver import ScenarioTransport

ROOT = Path(os.environ.get("DSRESTORE_CHECKOUT") or Path(__file__).resolve().parents[3])
TABLE = ROOT / "tests" / "scenarios" / "restore.json"
TRAPPING_GUEST = ROOT / "target" / "wasm32-wasip2" / "release" / "dsrestore_test_trapping_guest.wasm"
SCENARIOS = json.loads(TABLE.read_text())["scenarios"]
REGISTRATION = {
    "checkpoint-file-path": "/target/ntds",
    "log-path": "/target/logs",
    "restore-map": [{"database-name": "C:\\Windows\\NTDS\\ntds.dit",
                     "new-database-name": "/target/ntds/ntds.dit"}],
    "backup-log-path": "/target/logs",
    "gen-low": 0x10,
    "gen-high": 0x14,
}


def code_of(action) -> int:
    try:
        action()
        return codes.S_OK
    except DsError as e:
        return e.code


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s["name"] for s in SCENARIOS])
def test_scenario_gives_its_codes_and_leaves_no_binding_open(scenario):
    transport = ScenarioTransport(scenario["server"])
    guest = {None: None, "trapping": TRAPPING_GUEST}[
        scenario.get("guest")]
    main = Runtime(transport, guest)
    other = Runtime(ScenarioTransport("good"))
    ctx = neighbour = None
    got = []
    for step in scenario["steps"]:
        op = step[0]
        if op in ("prepare-with-token", "prepare-without-token"):
            token = b"token" if op == "prepare-with-token" else None
            try:
                ctx = main.prepare("test:target", token)
                code = codes.S_OK
            except DsError as e:
                code = e.code
        elif op == "database-locations":
            code = code_of(ctx.database_locations)
        elif op == "register":
            code = code_of(lambda: ctx.register(REGISTRATION))
        elif op == "register-complete":
            code = code_of(lambda: ctx.register_complete(step[1]))
        elif op == "prepare-neighbour":
            try:
                neighbour = main.prepare("test:target", b"token")
                code = codes.S_OK
            except DsError as e:
                code = e.code
        elif op == "end-neighbour":
            code = code_of(lambda: main.end(neighbour))
        elif op == "end":
            code = code_of(lambda: main.end(ctx))
        elif op == "end-in-another-runtime":
            code = code_of(lambda: other.end(ctx))
        elif op == "drop":
            ctx = None
            gc.collect()
            code = codes.S_OK
        else:
            raise AssertionError(f"unknown step {op}")
        got.append(f"0x{code:08X}")
    ctx = neighbour = None
    gc.collect()
    assert got == scenario["expect"]
    assert transport.open_connections == 0, "bindings left open at the transport"
    assert main.open_bindings == 0


def test_dserror_carries_code_and_name():
    rt = Runtime(ScenarioTransport("good"))
    ctx = rt.prepare("test:target", b"token")
    rt.end(ctx)
    with pytest.raises(DsError) as info:
        ctx.database_locations()
    assert info.value.code == 0x80070057
    assert info.value.name == "ERROR_INVALID_PARAMETER"
    assert "already ended" in str(info.value)


def test_context_manager_ends_the_context():
    transport = ScenarioTransport("good")
    rt = Runtime(transport)
    with rt.prepare("test:target", b"token") as ctx:
        kinds = [loc["kind"] for loc in ctx.database_locations()]
        assert "ntds-database" in kinds
    assert ctx._ended
    assert transport.open_connections == 0
