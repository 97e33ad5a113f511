// TcpTransport against a real `dsrestore agent` on 127.0.0.1.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { DsError, Runtime, TcpTransport, codes } from 'dsrestore';
import { bin, startAgent, stopAgent } from './agent.js';

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
    await stopAgent(agent);
  }
});
