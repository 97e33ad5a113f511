// A real `dsrestore agent` on 127.0.0.1 for the tests that need one.
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

/** The checkout: this file's, or $DSRESTORE_CHECKOUT when the tests run from
 * a copy outside it against the installed package. */
export const checkout = process.env.DSRESTORE_CHECKOUT ?? new URL('../../../', import.meta.url).pathname;
export const bin = process.env.DSRESTORE_BIN ?? join(checkout, 'target', 'debug', 'dsrestore');

/**
 * Starts an agent on a new target (offline unless `online`); resolves to
 * { agent, server, target }, `server` as the agent printed it (its pin included).
 */
export async function startAgent({ online = false, name = 'dc1', extra = [] } = {}) {
  const target = join(mkdtempSync(join(tmpdir(), 'dsrestore-js-')), name);
  execFileSync(bin, ['target', 'init', target, '--database-mib', '1', '--logs', '2', ...(online ? ['--online'] : [])]);
  execFileSync(bin, ['agent', 'add-user', '--target', target, 'CORP\\backup'], { env: { ...process.env, DSRESTORE_PASSWORD: 'pw' } });
  const agent = spawn(bin, ['agent', '--target', target, '--listen', '127.0.0.1:0', ...extra], { stdio: ['ignore', 'pipe', 'ignore'] });
  const line = await new Promise((resolve) => createInterface({ input: agent.stdout }).once('line', resolve));
  return { agent, server: line.split(/\s+/).find((w) => w.startsWith('tcp://')), target };
}

/** SIGTERM, which must be a graceful exit. */
export async function stopAgent(agent) {
  const exited = new Promise((resolve) => agent.once('exit', resolve));
  agent.kill('SIGTERM');
  assert.equal(await exited, 0, 'SIGTERM is a graceful exit');
}
