"""The backup family (DsBackup*) from Python, against a real agent."""

from pathlib import Path

import pytest

from dsrestore import BackupContext, DsError, Runtime, TcpTransport, codes


def runtime() -> Runtime:
    rt = Runtime(TcpTransport())
    rt.set_auth_identity("backup", "CORP", "pw")
    return rt


def test_a_backup_reads_every_file_byte_identical(online_agent):
    server, _ = online_agent
    rt = runtime()
    ctx, token = rt.prepare_backup(server)
    assert isinstance(ctx, BackupContext) and len(token) > 0
    with ctx:
        names = ctx.database_names()
        logs = ctx.backup_logs()
        kinds = {n["kind"] for n in names}
        assert {"ntds-database", "checkpoint-dir"} <= kinds
        assert [log["kind"] for log in logs] == ["log", "log"]
        for entry in names + logs:
            data = b"".join(ctx.read_file(entry["path"]))
            # The agent runs on this machine: its paths are ours to compare.
            assert data == Path(entry["path"]).read_bytes(), entry["path"]
    assert rt.open_bindings == 0


def test_truncate_logs_deletes_the_logs_the_backup_read_below_the_checkpoint(online_agent):
    server, _ = online_agent
    rt = runtime()
    ctx, _ = rt.prepare_backup(server)
    with ctx:
        logs = ctx.backup_logs()
        for log in logs:
            for _ in ctx.read_file(log["path"]):
                pass
        ctx.truncate_logs()
    # The sample target's checkpoint is at its last log: the live database
    # needs that one, so only the earlier ones go.
    left = [Path(log["path"]).exists() for log in logs]
    assert len(left) >= 2 and left == [False] * (len(left) - 1) + [True]


def test_the_documented_codes_of_a_backup_context(online_agent):
    server, _ = online_agent
    rt = runtime()
    ctx, _ = rt.prepare_backup(server)
    database = next(n["path"] for n in ctx.database_names() if n["kind"] == "ntds-database")
    with pytest.raises(DsError) as small:
        ctx.open_file(database, 1000)
    assert small.value.code == codes.ERROR_INVALID_PARAMETER
    with pytest.raises(DsError) as closed:
        ctx.close_file()
    assert closed.value.code == codes.HR_INVALID_HANDLE
    assert ctx.open_file(database) > 0
    with pytest.raises(DsError) as again:
        ctx.open_file(database)
    assert again.value.code == codes.HR_ALREADY_OPEN
    ctx.close_file()
    with pytest.raises(DsError) as after_close:
        ctx.read()
    assert after_close.value.code == codes.HR_INVALID_HANDLE
    assert ctx.end() == 0
    with pytest.raises(DsError) as ended:
        ctx.database_names()
    assert ended.value.code == codes.ERROR_INVALID_PARAMETER
    assert "backup-context" in ended.value.message and "already ended" in ended.value.message
    assert rt.open_bindings == 0


def test_incremental_and_logs_only_are_refused(online_agent):
    server, _ = online_agent
    rt = runtime()
    with pytest.raises(DsError) as incremental:
        rt.prepare_backup(server, "incremental")
    assert incremental.value.code == codes.ERROR_INVALID_PARAMETER
    with pytest.raises(DsError) as logs_only:
        rt.prepare_backup(server, "logs-only")
    assert logs_only.value.code == codes.ERROR_NOT_SUPPORTED
    assert rt.open_bindings == 0


def test_a_backup_of_an_offline_target_is_hr_could_not_connect(agent):
    rt = runtime()
    with pytest.raises(DsError) as info:
        rt.prepare_backup(agent)
    assert info.value.code == codes.HR_COULD_NOT_CONNECT
    assert rt.open_bindings == 0


def test_a_backup_context_of_another_runtime_is_invalid_parameter(online_agent):
    server, _ = online_agent
    mine, other = runtime(), runtime()
    ctx, _ = mine.prepare_backup(server)
    with pytest.raises(DsError) as foreign:
        other.end(ctx)
    assert foreign.value.code == codes.ERROR_INVALID_PARAMETER
    assert ctx.database_names(), "the context still works in its own runtime"
    ctx.end()
    assert mine.open_bindings == 0
