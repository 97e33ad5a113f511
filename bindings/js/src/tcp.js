// TcpTransport: reaches a `dsrestore agent` (tcp://host:port) over TLS 1.3
// with the agent's framing and authentication (docs/protocol.md), after it
// has authenticated the agent: by the pinned fingerprint of its certificate
// (tcp://host:port#sha256:<hex>, as the agent prints it, or `pin`), or by a
// CA file (#ca-file=<path> or `caFile`). Plaintext only when asked for by
// name (#insecure-plaintext or `insecurePlaintext`). The binding's calls
// are synchronous, so each connection's socket lives in a worker thread and
// the caller waits with Atomics.wait.
import { Worker } from 'node:worker_threads';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { encode, decode } from 'cborg';

import { DsError, codes } from './errors.js';

const MAX_FRAME_BYTES = 16 << 20;

class TcpConnection {
  constructor(server, host, port, first, trust, timeoutMs) {
    this.server = server;
    this.timeoutMs = timeoutMs;
    this.control = new SharedArrayBuffer(12);
    this.data = new SharedArrayBuffer(MAX_FRAME_BYTES);
    this.ctrl = new Int32Array(this.control);
    this.buf = new Uint8Array(this.data);
    this.broken = false;
    this.worker = new Worker(new URL('./tcp-worker.js', import.meta.url), {
      workerData: { control: this.control, data: this.data },
    });
    this.worker.unref();
    Atomics.store(this.ctrl, 0, 1);
    this.worker.postMessage({ type: 'connect', host, port, first, trust });
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
      const code = this.ctrl[2] >>> 0;
      this.ctrl[2] = 0;
      throw new DsError(code || failureCode, `${this.server}: ${new TextDecoder().decode(bytes)}`);
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

/** `sha256:` and 64 hex digits (either case, colons allowed), normalized. */
export function parsePin(text) {
  const m = /^sha256:([0-9a-f:]+)$/i.exec(text ?? '');
  const digits = m ? m[1].replaceAll(':', '').toLowerCase() : '';
  if (digits.length !== 64) {
    throw new DsError(codes.ERROR_INVALID_PARAMETER, `${JSON.stringify(text)} is not a certificate fingerprint: write sha256: and 64 hex digits`);
  }
  return `sha256:${digits}`;
}

const fingerprint = (der) => `sha256:${createHash('sha256').update(der).digest('hex')}`;

function isLoopback(host) {
  return host.toLowerCase() === 'localhost' || (net.isIPv4(host) && host.startsWith('127.')) || host === '::1';
}

/** The trust of `#fragment`: a pin, a CA file or plaintext. */
function trustOf(fragment) {
  if (fragment === 'insecure-plaintext') return { kind: 'insecure-plaintext' };
  if (fragment.startsWith('ca-file=')) return { kind: 'ca-file', caFile: fragment.slice('ca-file='.length) };
  return { kind: 'pin', pin: parsePin(fragment) };
}

export class TcpTransport {
  /**
   * `pin` (sha256:<hex>), `caFile` or `insecurePlaintext` say how to
   * authenticate an agent whose server name carries no #... of its own;
   * with none of them such a server is refused before anything is sent.
   */
  constructor({ timeoutMs = 60_000, pin, caFile, insecurePlaintext = false } = {}) {
    if ([pin, caFile, insecurePlaintext || undefined].filter((x) => x !== undefined).length > 1) {
      throw new DsError(codes.ERROR_INVALID_PARAMETER, 'give one of pin, caFile and insecurePlaintext');
    }
    this.timeoutMs = timeoutMs;
    this.trust = pin ? { kind: 'pin', pin: parsePin(pin) }
      : caFile ? { kind: 'ca-file', caFile }
        : insecurePlaintext ? { kind: 'insecure-plaintext' } : null;
  }

  open(server, identity) {
    const m = /^tcp:\/\/([^#]+):(\d+)\/?(?:#(.*))?$/.exec(server);
    if (!m) throw new DsError(codes.HR_COULD_NOT_CONNECT, `${server}: the TCP transport reaches tcp://host:port`);
    const name = server.split('#')[0];
    const host = m[1].replace(/^\[|\]$/g, '');
    const trust = m[3] ? trustOf(m[3]) : this.trust;
    if (!trust) {
      throw new DsError(codes.SEC_E_UNTRUSTED_ROOT, `${name}: no way to authenticate this agent is set, so nothing was sent: `
        + `give the server as ${name}#sha256:<fingerprint> (the agent prints it at start), or pin or caFile`);
    }
    if (trust.kind === 'ca-file') {
      let pem;
      try {
        pem = readFileSync(trust.caFile, 'utf8');
      } catch (e) {
        throw new DsError(codes.ERROR_INVALID_PARAMETER, `${name}: the CA file ${trust.caFile}: ${e.message}`);
      }
      const blocks = [...pem.matchAll(/-----BEGIN CERTIFICATE-----([^-]+)-----END CERTIFICATE-----/g)];
      trust.ca = pem;
      trust.roots = blocks.map((b) => fingerprint(Buffer.from(b[1].replace(/\s+/g, ''), 'base64')));
    }
    if (trust.kind === 'insecure-plaintext' && !isLoopback(host)) {
      process.emitWarning(`${name} is reached without TLS: the password and the database cross the network unencrypted`);
    }
    const first = encode({ authenticate: identity ? { user: identity.user, domain: identity.domain, password: identity.password } : null });
    const conn = new TcpConnection(name, host, Number(m[2]), first, trust, this.timeoutMs);
    const reply = decode(conn.reply);
    if (reply.err) {
      conn.close();
      throw new DsError(reply.err.code, reply.err.message);
    }
    return conn;
  }
}
