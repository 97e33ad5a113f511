// TcpTransport against a real `dsrestore agent` on 127.0.0.1.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

import { DsError, Runtime, TcpTransport, codes } from '../src/index.js';

const bin = process.env.DSRESTORE_BIN ?? new URL('../../../target/debug/dsrestore', import.meta.url).pathname;

async function startAgent() {
  const target = join(mkdtempSync(join(tmpdir(), 'dsrestore-js-')), 'dc1');
  execFileSync(bin, ['target', 'init', target, '--database-mib', '1', '--logs', '2']);
  execFileSync(bin, ['agent', 'add-user', '--target', target, 'CORP\\backup'], { env: { ...process.env, DSRESTORE_PASSWORD: 'pw' } });
  const agent = spawn(bin, ['agent', '--target', target, '--listen', '127.0.0.1:0'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const line = await new Promise((resolve) => createInterface({ input: agent.stdout }).once('line', resolve));
  return { agent, server: line.split(/\s+/).find((w) => w.startsWith('tcp://')) };
}

test('locations through an authenticated agent; a wrong password is access denied', { skip: !existsSync(bin) && `${bin} is not built` }, async () => {
  const { agent, server } = await startAgent();
  try {
    const rt = await Runtime.create(new TcpTransport());
    rt.setAuthIdentity('backup', 'CORP', 'pw');
    assert.equal(rt.isNtdsOnline(server), false);
    const ctx = rt.prepare(server); // no token: a restricted context
    const kinds = ctx.databaseLocations().map((l) => l.kind);
    assert.ok(kinds.includes('ntds-database') && kinds.includes('log-dir'));
    rt.end(ctx);
    assert.equal(rt.openBindings, 0);

    const wrong = await Runtime.create(new TcpTransport());
    wrong.setAuthIdentity('backup', 'CORP', 'nope');
    assert.throws(() => wrong.isNtdsOnline(server), (e) => e instanceof DsError && e.code === codes.ERROR_ACCESS_DENIED);
    assert.equal(wrong.openBindings, 0);
  } finally {
    const exited = new Promise((resolve) => agent.once('exit', resolve));
    agent.kill('SIGTERM');
    assert.equal(await exited, 0, 'SIGTERM is a graceful exit');
  }
});
