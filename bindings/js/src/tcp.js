// TcpTransport: reaches a `dsrestore agent` (tcp://host:port) with the
// agent's framing and authentication (docs/protocol.md). The binding's calls
// are synchronous, so each connection's socket lives in a worker thread and
// the caller waits with Atomics.wait.
import { Worker } from 'node:worker_threads';
import { encode, decode } from 'cborg';

import { DsError, codes } from './errors.js';

const MAX_FRAME_BYTES = 16 << 20;

class TcpConnection {
  constructor(server, host, port, first, timeoutMs) {
    this.server = server;
    this.timeoutMs = timeoutMs;
    this.control = new SharedArrayBuffer(8);
    this.data = new SharedArrayBuffer(MAX_FRAME_BYTES);
    this.ctrl = new Int32Array(this.control);
    this.buf = new Uint8Array(this.data);
    this.broken = false;
    this.worker = new Worker(new URL('./tcp-worker.js', import.meta.url), {
      workerData: { control: this.control, data: this.data },
    });
    this.worker.unref();
    Atomics.store(this.ctrl, 0, 1);
    this.worker.postMessage({ type: 'connect', host, port, first });
    this.reply = this.wait(codes.HR_COULD_NOT_CONNECT);
  }

  wait(failureCode) {
    const r = Atomics.wait(this.ctrl, 0, 1, this.timeoutMs);
    const state = Atomics.load(this.ctrl, 0);
    const bytes = this.buf.slice(0, this.ctrl[1]);
    Atomics.store(this.ctrl, 0, 0);
    if (r === 'timed-out' && state === 1) {
      this.broken = true;
      throw new DsError(codes.ERROR_TIMEOUT, `${this.server}: no reply in time`);
    }
    if (state === 3) {
      this.broken = true;
      throw new DsError(failureCode, `${this.server}: ${new TextDecoder().decode(bytes)}`);
    }
    return bytes;
  }

  call(request) {
    if (this.broken) throw new DsError(codes.RPC_S_CALL_FAILED, `${this.server}: the connection broke earlier`);
    this.buf.set(request);
    this.ctrl[1] = request.length;
    Atomics.store(this.ctrl, 0, 1);
    this.worker.postMessage({ type: 'call' });
    return this.wait(codes.RPC_S_CALL_FAILED);
  }

  close() {
    this.worker.postMessage({ type: 'close' });
  }
}

export class TcpTransport {
  constructor({ timeoutMs = 60_000 } = {}) {
    this.timeoutMs = timeoutMs;
  }

  open(server, identity) {
    const m = /^tcp:\/\/(.+):(\d+)\/?$/.exec(server);
    if (!m) throw new DsError(codes.HR_COULD_NOT_CONNECT, `${server}: the TCP transport reaches tcp://host:port`);
    const first = encode({ authenticate: identity ? { user: identity.user, domain: identity.domain, password: identity.password } : null });
    const conn = new TcpConnection(server, m[1], Number(m[2]), first, this.timeoutMs);
    const reply = decode(conn.reply);
    if (reply.err) {
      conn.close();
      throw new DsError(reply.err.code, reply.err.message);
    }
    return conn;
  }
}
