// The backup family (DsBackup*) from JavaScript, against a real agent.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';

import { BackupContext, DsError, Runtime, TcpTransport, codes } from 'dsrestore';
import { bin, startAgent, stopAgent } from './agent.js';

const skip = !existsSync(bin) && `${bin} is not built`;
const isCode = (code) => (e) => e instanceof DsError && e.code === code;

async function runtime() {
  const rt = await Runtime.create(new TcpTransport());
  rt.setAuthIdentity('backup', 'CORP', 'pw');
  return rt;
}

/** Runs `body(server)` against an agent of an online target, then stops it. */
async function withOnlineAgent(body) {
  const { agent, server } = await startAgent({ online: true });
  try {
    await body(server);
  } finally {
    await stopAgent(agent);
  }
}

test('a backup reads every file byte-identical, and truncate-logs deletes the logs read below the checkpoint', { skip }, () => withOnlineAgent(async (server) => {
  const rt = await runtime();
  const [ctx, token] = rt.prepareBackup(server);
  assert.ok(ctx instanceof BackupContext && token.length > 0);
  const names = ctx.databaseNames();
  const logs = ctx.backupLogs();
  assert.ok(names.some((n) => n.kind === 'ntds-database'));
  assert.deepEqual(logs.map((l) => l.kind), ['log', 'log']);
  for (const entry of [...names, ...logs]) {
    const data = Buffer.concat([...ctx.readFile(entry.path)]);
    // The agent runs on this machine: its paths are ours to compare.
    assert.ok(data.equals(readFileSync(entry.path)), entry.path);
  }
  ctx.truncateLogs();
  // The sample target's checkpoint is at its last log: that one stays.
  assert.deepEqual(logs.map((l) => existsSync(l.path)), [false, true]);
  assert.equal(rt.end(ctx), 0);
  assert.equal(rt.openBindings, 0);
}));

test('a backup context gives the documented codes, and none once ended', { skip }, () => withOnlineAgent(async (server) => {
  const rt = await runtime();
  const [ctx] = rt.prepareBackup(server);
  const database = ctx.databaseNames().find((n) => n.kind === 'ntds-database').path;
  assert.throws(() => ctx.openFile(database, 1000), isCode(codes.ERROR_INVALID_PARAMETER));
  assert.throws(() => ctx.closeFile(), isCode(codes.HR_INVALID_HANDLE));
  assert.ok(ctx.openFile(database) > 0);
  assert.throws(() => ctx.openFile(database), isCode(codes.HR_ALREADY_OPEN));
  ctx.closeFile();
  assert.throws(() => ctx.read(), isCode(codes.HR_INVALID_HANDLE));

  const other = await runtime();
  assert.throws(() => other.end(ctx), isCode(codes.ERROR_INVALID_PARAMETER));
  assert.ok(ctx.databaseNames().length > 0, 'still usable in its own runtime');
  ctx.end();
  assert.throws(() => ctx.databaseNames(), (e) => isCode(codes.ERROR_INVALID_PARAMETER)(e) && /backup-context \d+ was already ended/.test(e.message));
  assert.equal(rt.openBindings, 0);

  assert.throws(() => rt.prepareBackup(server, 'incremental'), isCode(codes.ERROR_INVALID_PARAMETER));
  assert.throws(() => rt.prepareBackup(server, 'logs-only'), isCode(codes.ERROR_NOT_SUPPORTED));
  assert.equal(rt.openBindings, 0);
}));

test('a backup of an offline target is hrCouldNotConnect', { skip }, async () => {
  const { agent, server } = await startAgent();
  try {
    const rt = await runtime();
    assert.throws(() => rt.prepareBackup(server), isCode(codes.HR_COULD_NOT_CONNECT));
    assert.equal(rt.openBindings, 0);
  } finally {
    await stopAgent(agent);
  }
});
