// The socket side of TcpTransport: runs in a worker thread, because the
// guest's binding calls are synchronous and the main thread waits on
// Atomics.wait while this thread does the I/O.
import { parentPort, workerData } from 'node:worker_threads';
import net from 'node:net';

const { control, data } = workerData;
const ctrl = new Int32Array(control);
const buf = new Uint8Array(data);
// ctrl[0]: 0 idle, 1 pending, 2 done, 3 failed; ctrl[1]: byte length in buf.
let socket = null;
let pending = Buffer.alloc(0);
let want = null;

function finish(state, bytes) {
  if (bytes) {
    buf.set(bytes.subarray(0, Math.min(bytes.length, buf.length)));
    ctrl[1] = bytes.length;
  }
  Atomics.store(ctrl, 0, state);
  Atomics.notify(ctrl, 0);
}

function fail(message) {
  finish(3, new TextEncoder().encode(message));
}

function pump() {
  while (want !== null) {
    if (want === 'header') {
      if (pending.length < 4) return;
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

parentPort.on('message', (msg) => {
  if (msg.type === 'connect') {
    socket = net.createConnection({ host: msg.host, port: msg.port }, () => send(msg.first));
    socket.setNoDelay(true);
    socket.on('data', (chunk) => {
      pending = Buffer.concat([pending, chunk]);
      pump();
    });
    socket.on('error', (e) => { if (Atomics.load(ctrl, 0) === 1) fail(e.message); });
    socket.on('close', () => { if (Atomics.load(ctrl, 0) === 1) fail('the agent closed the connection'); });
  } else if (msg.type === 'call') {
    if (!socket || socket.destroyed) return fail('the connection is closed');
    send(buf.slice(0, ctrl[1]));
  } else if (msg.type === 'close') {
    socket?.destroy();
    parentPort.close();
  }
});
