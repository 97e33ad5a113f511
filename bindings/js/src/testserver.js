// An in-process restore target for tests (docs/protocol.md), and the
// misbehaving servers of the shared scenario table.

import { encode, decode } from 'cborg';
import { DsError, codes } from './errors.js';

let sessions = 0;
const LOCATIONS = [
  { bft: 0x44, path: '/target/ntds/ntds.dit' },
  { bft: 0x82, path: '/target/logs' },
  { bft: 0x83, path: '/target/ntds' },
];
const ok = (value = null) => encode({ ok: value });
const err = (code, message) => encode({ err: { code, message } });

/** One binding's view of a conforming target in restore mode. */
export class GoodTarget {
  session = null;

  handle(request) {
    let msg;
    try {
      msg = decode(request);
    } catch (e) {
      return err(codes.RPC_X_BAD_STUB_DATA, `malformed request: ${e.message}`);
    }
    const { op } = msg;
    if (op === 'hello') return ok({ version: 1, server: 'js-test-target' });
    if (op === 'is-ntds-online') return ok(false);
    if (op === 'restore-prepare') {
      if (this.session) return err(codes.ERROR_INVALID_PARAMETER, 'this binding already carries a session');
      const restricted = msg['expiry-token'] == null;
      this.session = { id: ++sessions, restricted, phase: 'prepared' };
      return ok({ session: this.session.id, restricted });
    }
    const s = this.session;
    if (!s) return err(codes.ERROR_INVALID_PARAMETER, `${op} needs a restore session`);
    switch (op) {
      case 'database-locations':
        return ok(LOCATIONS);
      case 'register':
        if (s.restricted) return err(codes.HR_MISSING_EXPIRY_TOKEN, `session ${s.id} is restricted`);
        if (s.phase !== 'prepared') return err(codes.ERROR_INVALID_PARAMETER, `session ${s.id} is ${s.phase}`);
        s.phase = 'registered';
        return ok();
      case 'register-complete':
        if (s.phase !== 'registered') return err(codes.ERROR_INVALID_PARAMETER, `session ${s.id} has no registration`);
        s.phase = 'completed';
        return ok();
      case 'restore-end':
        this.session = null;
        return ok();
      default:
        return err(codes.ERROR_INVALID_PARAMETER, `unknown op ${op}`);
    }
  }
}

/** Connections to a GoodTarget, or to one of the table's misbehaving servers
 * (garbage, refuses, closes); counts the connections open. */
export class ScenarioTransport {
  constructor(kind = 'good') {
    this.kind = kind;
    this.openConnections = 0;
  }

  open() {
    this.openConnections += 1;
    const transport = this;
    const target = new GoodTarget();
    let calls = 0;
    let closed = false;
    return {
      call(request) {
        calls += 1;
        const hello = calls === 1;
        if (transport.kind === 'garbage' && !hello) return new Uint8Array([0xff, 0x00, 0x20]);
        if (transport.kind === 'refuses' && !hello) return err(codes.ERROR_SERVICE_ALREADY_RUNNING, 'refused by the scenario');
        if (transport.kind === 'closes' && calls > 2) throw new DsError(codes.RPC_S_CALL_FAILED, 'the connection closed (scenario)');
        return target.handle(request);
      },
      close() {
        if (!closed) {
          closed = true;
          transport.openConnections -= 1;
        }
      },
    };
  }
}
