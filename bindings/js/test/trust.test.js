// TcpTransport authenticates the agent before it says who it is: pins, a CA
// file, rogue listeners that must receive no password, plaintext only when
// asked for by name.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { Worker } from 'node:worker_threads';
import { join } from 'node:path';
import { DsError, Runtime, TcpTransport, codes } from 'dsrestore';
import { bin, startAgent, stopAgent } from './agent.js';

const skip = !existsSync(bin) && `${bin} is not built`;
const SECRET = 'correct-horse-battery-staple';

async function runtime(transport, password = SECRET) {
  const rt = await Runtime.create(transport);
  rt.setAuthIdentity('backup', 'CORP', password);
  return rt;
}

const refusedWith = (code, ...names) => (e) => e instanceof DsError && e.code === code
  && names.every((n) => e.message.includes(n)) || assert.fail(`${e}`);

/**
 * A listener that answers in plaintext, in a worker thread (the main thread
 * blocks in the transport's calls); resolves to { address, received() }.
 */
async function plaintextRogue() {
  const worker = new Worker(`
    const { parentPort } = require('node:worker_threads');
    const net = require('node:net');
    const chunks = [];
    const server = net.createServer((sock) => {
      sock.once('data', () => sock.write(Buffer.from([0, 0, 0, 5, 104, 101, 108, 108, 111])));
      sock.on('data', (c) => chunks.push(c));
      sock.on('error', () => {});
      sock.on('close', () => { server.close(); parentPort.postMessage(Buffer.concat(chunks)); });
    });
    server.listen(0, '127.0.0.1', () => parentPort.postMessage(server.address().port));
  `, { eval: true });
  const port = await once(worker, 'message');
  return {
    address: `127.0.0.1:${port[0]}`,
    received: async () => Buffer.from((await once(worker, 'message'))[0]),
  };
}

function audit(target) {
  const status = JSON.parse(execFileSync(bin, ['target', 'status', target, '--json'], { encoding: 'utf8' }));
  return status.audit.map((e) => e.event);
}

test('the printed name is trusted as it is; a bare name is refused; pin gives one', { skip }, async () => {
  const { agent, server } = await startAgent();
  try {
    assert.match(server, /#sha256:[0-9a-f]{64}$/);
    assert.equal((await runtime(new TcpTransport(), 'pw')).isNtdsOnline(server), false);
    const [address, pin] = server.split('#');
    assert.throws(() => new TcpTransport().open(address, null), refusedWith(codes.SEC_E_UNTRUSTED_ROOT, 'nothing was sent'));
    assert.equal((await runtime(new TcpTransport({ pin }), 'pw')).isNtdsOnline(address), false);
  } finally {
    await stopAgent(agent);
  }
});

test('a rogue plaintext listener receives no password', { skip }, async () => {
  const { agent, server } = await startAgent();
  try {
    const rogue = await plaintextRogue();
    const pin = server.split('#')[1];
    const rt = await runtime(new TcpTransport());
    assert.throws(() => rt.isNtdsOnline(`tcp://${rogue.address}#${pin}`), refusedWith(codes.SEC_E_ILLEGAL_MESSAGE));
    const got = await rogue.received();
    assert.ok(got.length > 0, 'the transport sent its TLS hello');
    assert.ok(!got.includes(SECRET) && !got.includes('backup'), 'the rogue read the identity');
  } finally {
    await stopAgent(agent);
  }
});

test('an impostor is refused naming both fingerprints and sees no authentication', { skip }, async () => {
  const real = await startAgent();
  const impostor = await startAgent({ name: 'impostor' });
  try {
    const pin = real.server.split('#')[1];
    const [address, presented] = impostor.server.split('#');
    const rt = await runtime(new TcpTransport());
    assert.throws(() => rt.isNtdsOnline(`${address}#${pin}`), refusedWith(codes.SEC_E_UNTRUSTED_ROOT, pin, presented));
    assert.deepEqual(audit(impostor.target).filter((e) => e === 'authenticate'), []);
  } finally {
    await stopAgent(impostor.agent);
    await stopAgent(real.agent);
  }
});

/** A CA and a certificate it issued for 127.0.0.1 (openssl); { ca, cert, key }. */
function issue(name) {
  const dir = mkdtempSync(join(tmpdir(), `dsrestore-ca-${name}-`));
  const openssl = (...args) => execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  openssl('req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', `/CN=${name} CA`);
  openssl('req', ...ec, '-keyout', 'agent.key', '-out', 'agent.csr', '-subj', '/CN=agent');
  writeFileSync(join(dir, 'ext'), 'subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n');
  openssl('x509', '-req', '-in', 'agent.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'agent.pem', '-days', '2', '-extfile', 'ext');
  return { ca: join(dir, 'ca.pem'), cert: join(dir, 'agent.pem'), key: join(dir, 'agent.key') };
}

test('a CA file trusts what the CA issued; another CA is refused naming both fingerprints', { skip }, async () => {
  const corp = issue('corp');
  const other = issue('other');
  const { agent, server } = await startAgent({ extra: ['--cert', corp.cert, '--key', corp.key] });
  try {
    const [address, presented] = server.split('#');
    assert.equal((await runtime(new TcpTransport({ caFile: corp.ca }), 'pw')).isNtdsOnline(address), false);
    assert.equal((await runtime(new TcpTransport(), 'pw')).isNtdsOnline(`${address}#ca-file=${corp.ca}`), false);
    const der = Buffer.from(readFileSync(other.ca, 'utf8').replace(/-----[A-Z ]+-----|\s+/g, ''), 'base64');
    const root = `sha256:${createHash('sha256').update(der).digest('hex')}`;
    const rt = await runtime(new TcpTransport({ caFile: other.ca }), 'pw');
    assert.throws(() => rt.isNtdsOnline(address), refusedWith(codes.SEC_E_UNTRUSTED_ROOT, presented, root));
  } finally {
    await stopAgent(agent);
  }
});

test('plaintext needs both sides to ask for it', { skip }, async () => {
  const { agent, server } = await startAgent({ extra: ['--insecure-plaintext'] });
  try {
    assert.match(server, /#insecure-plaintext$/);
    assert.equal((await runtime(new TcpTransport(), 'pw')).isNtdsOnline(server), false);
    const address = server.split('#')[0];
    assert.equal((await runtime(new TcpTransport({ insecurePlaintext: true }), 'pw')).isNtdsOnline(address), false);
    const rt = await runtime(new TcpTransport(), 'pw');
    assert.throws(() => rt.isNtdsOnline(`${address}#sha256:${'0'.repeat(64)}`),
      (e) => e instanceof DsError && [codes.SEC_E_ILLEGAL_MESSAGE, codes.HR_COULD_NOT_CONNECT].includes(e.code) || assert.fail(`${e}`));
  } finally {
    await stopAgent(agent);
  }
});
