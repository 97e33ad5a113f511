// The socket side of TcpTransport: runs in a worker thread, because the
// guest's binding calls are synchronous and the main thread waits on
// Atomics.wait while this thread does the I/O. It authenticates the agent
// (TLS 1.3, its certificate against a pin or a CA file) before it sends the
// first frame, which holds the password.
import { parentPort, workerData } from 'node:worker_threads';
import { createHash } from 'node:crypto';
import net from 'node:net';
import tls from 'node:tls';

const { control, data } = workerData;
const ctrl = new Int32Array(control);
const buf = new Uint8Array(data);
// ctrl[0]: 0 idle, 1 pending, 2 done, 3 failed; ctrl[1]: byte length in buf;
// ctrl[2]: the failure's HRESULT (0: the caller's default).
let socket = null;
let pending = Buffer.alloc(0);
let want = null;

const SEC_E_UNTRUSTED_ROOT = 0x80090325;
const SEC_E_ILLEGAL_MESSAGE = 0x80090326;
const HR_COULD_NOT_CONNECT = 0xc7ff0007;

function finish(state, bytes) {
  if (bytes) {
    buf.set(bytes.subarray(0, Math.min(bytes.length, buf.length)));
    ctrl[1] = bytes.length;
  }
  Atomics.store(ctrl, 0, state);
  Atomics.notify(ctrl, 0);
}

function fail(message, code = 0) {
  ctrl[2] = code | 0;
  finish(3, new TextEncoder().encode(message));
}

const fingerprint = (der) => `sha256:${createHash('sha256').update(der).digest('hex')}`;

function pump() {
  while (want !== null) {
    if (want === 'header') {
      if (pending.length < 4) return;
      if ((pending[0] === 0x15 || pending[0] === 0x16) && pending[1] === 0x03) {
        want = null;
        fail('it answers in TLS: reach it without insecurePlaintext, by its pinned certificate (tcp://host:port#sha256:..., as the agent prints it)', SEC_E_ILLEGAL_MESSAGE);
        socket.destroy();
        return;
      }
      const len = pending.readUInt32BE(0);
      pending = pending.subarray(4);
      if (len > buf.length) {
        want = null;
        fail(`a frame of ${len} bytes is over the limit of ${buf.length}`);
        socket.destroy();
        return;
      }
      want = len;
    } else {
      if (pending.length < want) return;
      const frame = pending.subarray(0, want);
      pending = pending.subarray(want);
      want = null;
      finish(2, frame);
    }
  }
}

function send(bytes) {
  const header = Buffer.alloc(4);
  header.writeUInt32BE(bytes.length);
  want = 'header';
  socket.write(Buffer.concat([header, Buffer.from(bytes)]));
}

/** Whether the agent's certificate passes `trust`; the refusal's words if not. */
function refusal(trust, sock) {
  const presented = fingerprint(sock.getPeerCertificate().raw);
  if (trust.kind === 'pin') {
    if (presented === trust.pin) return null;
    return `it presented the certificate ${presented}, but ${trust.pin} is pinned for it; nothing was sent. `
      + 'Someone may be posing as the agent. If its certificate was replaced on purpose, read the new fingerprint at the agent and pin that one';
  }
  if (sock.authorized) return null;
  return `it presented the certificate ${presented}, which the CA file ${trust.caFile} (trusting ${trust.roots.join(', ')}) `
    + `does not accept: ${sock.authorizationError}; nothing was sent`;
}

function connect(msg) {
  const { host, port, first, trust } = msg;
  const watch = (sock) => {
    sock.setNoDelay(true);
    sock.on('data', (chunk) => {
      pending = Buffer.concat([pending, chunk]);
      pump();
    });
    sock.on('close', () => { if (Atomics.load(ctrl, 0) === 1) fail('the agent closed the connection'); });
  };
  if (trust.kind === 'insecure-plaintext') {
    socket = net.createConnection({ host, port }, () => send(first));
    socket.on('error', (e) => { if (Atomics.load(ctrl, 0) === 1) fail(e.message); });
    watch(socket);
    return;
  }
  const options = {
    host, port, minVersion: 'TLSv1.3',
    // Decided below, with the certificate in hand, before anything is sent.
    rejectUnauthorized: false,
    ...(net.isIP(host) ? {} : { servername: host }),
    ...(trust.kind === 'ca-file' ? { ca: trust.ca } : {}),
  };
  let secured = false;
  socket = tls.connect(options, () => {
    secured = true;
    const why = refusal(trust, socket);
    if (why) {
      fail(why, SEC_E_UNTRUSTED_ROOT);
      socket.destroy();
      return;
    }
    send(first);
  });
  socket.on('error', (e) => {
    if (Atomics.load(ctrl, 0) !== 1) return;
    if (secured) return fail(e.message);
    if (['ECONNRESET', 'EPIPE'].includes(e.code) || /socket disconnected/.test(e.message)) {
      return fail(`it closed the connection during the TLS handshake (${e.message}): it is over its connection limit, `
        + 'or it does not speak TLS (an agent started with --insecure-plaintext is reached as tcp://host:port#insecure-plaintext); nothing was sent', HR_COULD_NOT_CONNECT);
    }
    if (e.code === 'ECONNREFUSED') return fail(e.message, HR_COULD_NOT_CONNECT);
    fail(`it does not answer in TLS 1.3 (${e.message}): it is not a dsrestore agent, or one started with --insecure-plaintext; nothing was sent`, SEC_E_ILLEGAL_MESSAGE);
  });
  watch(socket);
}

parentPort.on('message', (msg) => {
  if (msg.type === 'connect') {
    connect(msg);
  } else if (msg.type === 'call') {
    if (!socket || socket.destroyed) return fail('the connection is closed');
    send(buf.slice(0, ctrl[1]));
  } else if (msg.type === 'close') {
    socket?.destroy();
    parentPort.close();
  }
});
