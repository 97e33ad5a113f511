// The shared scenario table (tests/scenarios/restore.json), in JavaScript.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { DsError, Runtime, codes, hex } from 'dsrestore';
import { ScenarioTransport } from 'dsrestore/testserver';
import { checkout } from './agent.js';

const table = JSON.parse(readFileSync(join(checkout, 'tests', 'scenarios', 'restore.json')));
// The trapping test guest is not in the package: the checkout's jco output.
const guests = { trapping: join(checkout, 'bindings', 'js', 'generated', 'trapping') };
const registration = {
  checkpointFilePath: '/target/ntds',
  logPath: '/target/logs',
  restoreMap: [{ databaseName: 'C:\\Windows\\NTDS\\ntds.dit', newDatabaseName: '/target/ntds/ntds.dit' }],
  backupLogPath: '/target/logs',
  genLow: 0x10,
  genHigh: 0x14,
};

const codeOf = (f) => {
  try {
    f();
    return codes.S_OK;
  } catch (e) {
    if (e instanceof DsError) return e.code;
    throw e;
  }
};

for (const scenario of table.scenarios) {
  test(`${scenario.name} gives its codes and leaves no binding open`, async () => {
    const transport = new ScenarioTransport(scenario.server);
    const main = await Runtime.create(transport, guests[scenario.guest] ?? 'dsrestore');
    const other = await Runtime.create(new ScenarioTransport('good'));
    let ctx = null;
    let neighbour = null;
    const got = [];
    for (const [op, arg] of scenario.steps) {
      let code;
      switch (op) {
        case 'prepare-with-token':
        case 'prepare-without-token': {
          const token = op === 'prepare-with-token' ? new Uint8Array([1, 2, 3]) : null;
          code = codeOf(() => { ctx = main.prepare('test:target', token); });
          break;
        }
        case 'prepare-neighbour':
          code = codeOf(() => { neighbour = main.prepare('test:target', new Uint8Array([1])); });
          break;
        case 'database-locations': code = codeOf(() => ctx.databaseLocations()); break;
        case 'register': code = codeOf(() => ctx.register(registration)); break;
        case 'register-complete': code = codeOf(() => ctx.registerComplete(arg)); break;
        case 'end': code = codeOf(() => main.end(ctx)); break;
        case 'end-neighbour': code = codeOf(() => main.end(neighbour)); break;
        case 'end-in-another-runtime': code = codeOf(() => other.end(ctx)); break;
        case 'drop': code = codeOf(() => ctx.drop()); break;
        default: throw new Error(`unknown step ${op}`);
      }
      got.push(hex(code));
    }
    assert.deepEqual(got, scenario.expect);
    assert.equal(transport.openConnections, 0, 'bindings left open at the transport');
    assert.equal(main.openBindings, 0);
  });
}

test('DsError carries the code and its name; use after end does not reach jco', async () => {
  const rt = await Runtime.create(new ScenarioTransport('good'));
  const ctx = rt.prepare('test:target', new Uint8Array([1]));
  assert.ok(ctx.databaseLocations().some((l) => l.kind === 'ntds-database'));
  rt.end(ctx);
  assert.throws(() => ctx.databaseLocations(), (e) => e instanceof DsError && e.code === 0x80070057
    && e.codeName === 'ERROR_INVALID_PARAMETER' && /already ended/.test(e.message));
});
