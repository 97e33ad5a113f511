// dsrestore for JavaScript: the guest component transpiled by jco, one
// instance per restore or backup context, binding-transport supplied from JS.
//
// A transport is any object with open(server, identity) returning a
// connection with call(request: Uint8Array): Uint8Array and close(); all
// synchronous (the guest's calls are). Throw a DsError to fail with a code.

import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import * as shim from '@bytecodealliance/preview2-shim';

import { DsError, codes, invalidParameter } from './errors.js';

export { DsError, codes } from './errors.js';
export { TcpTransport } from './tcp.js';

const generated = join(dirname(fileURLToPath(import.meta.url)), '..', 'generated');

const wasi = {
  'wasi:cli/environment': shim.cli.environment,
  'wasi:cli/exit': shim.cli.exit,
  'wasi:cli/stderr': shim.cli.stderr,
  'wasi:cli/stdin': shim.cli.stdin,
  'wasi:cli/stdout': shim.cli.stdout,
  'wasi:cli/terminal-input': shim.cli.terminalInput,
  'wasi:cli/terminal-output': shim.cli.terminalOutput,
  'wasi:cli/terminal-stderr': shim.cli.terminalStderr,
  'wasi:cli/terminal-stdin': shim.cli.terminalStdin,
  'wasi:cli/terminal-stdout': shim.cli.terminalStdout,
  'wasi:io/error': shim.io.error,
  'wasi:io/poll': shim.io.poll,
  'wasi:io/streams': shim.io.streams,
};

/**
 * The jco output and compiled core modules of one component, loaded once:
 * `name` is one this package carries (generated/dsrestore), or a directory
 * of jco output (a path, e.g. a test guest of the checkout).
 */
async function loadComponent(name) {
  const dir = name.includes('/') ? name : join(generated, name);
  const { instantiate } = await import(pathToFileURL(join(dir, 'component.js')).href);
  const modules = new Map();
  const getCoreModule = (path) => {
    if (!modules.has(path)) modules.set(path, new WebAssembly.Module(readFileSync(join(dir, path))));
    return modules.get(path);
  };
  return { instantiate, getCoreModule };
}

const hex = (code) => `0x${code.toString(16).toUpperCase().padStart(8, '0')}`;

/** The WIT error record a guest receives from a failed import. */
const witError = (e) => {
  if (e instanceof DsError) return { payload: { code: e.code, message: e.detail } };
  return { payload: { code: codes.RPC_S_CALL_FAILED, message: `the connection failed: ${e?.message ?? e}` } };
};

let sessionIds = 0;

class Session {
  constructor(runtime) {
    this.runtime = runtime;
    this.id = ++sessionIds;
    this.bindings = new Set();
    this.dead = null;
    const session = this;
    // The binding resource of this session: every one it opens is tracked.
    class Binding {
      static open(server, identity) {
        let connection;
        try {
          connection = runtime.transport.open(server, identity ?? null);
        } catch (e) {
          throw witError(e instanceof DsError ? e : new DsError(codes.HR_COULD_NOT_CONNECT, `${server}: ${e?.message ?? e}`));
        }
        const binding = new Binding();
        binding.connection = connection;
        session.bindings.add(binding);
        runtime.openBindings += 1;
        return binding;
      }

      call(request) {
        if (!this.connection) throw witError(new DsError(codes.ERROR_INVALID_PARAMETER, 'the binding is closed'));
        try {
          return this.connection.call(request);
        } catch (e) {
          throw witError(e);
        }
      }

      close() {
        if (!this.connection) return;
        const connection = this.connection;
        this.connection = null;
        session.bindings.delete(this);
        runtime.openBindings -= 1;
        try { connection.close(); } catch { /* a transport's close must not break cleanup */ }
      }

      [Symbol.dispose]() {
        this.close();
      }
    }
    const root = runtime.component.instantiate(runtime.component.getCoreModule, {
      ...wasi,
      'dsrestore:backup/binding-transport': { Binding },
    });
    this.client = root.restoreClient;
    this.backup = root.backupClient;
    if (runtime.identity) this.call(() => this.client.setAuthIdentity(runtime.identity));
  }

  /** Calls into the guest: WIT errors become DsError, a trap kills the session. */
  call(f, what = 'call') {
    if (this.dead) {
      throw new DsError(this.dead.code, `session ${this.id}: ${what} refused: the guest trapped earlier and the session is dead (${this.dead.detail})`);
    }
    try {
      return f();
    } catch (e) {
      if (e && Object.prototype.hasOwnProperty.call(e, 'payload')) {
        throw new DsError(e.payload.code, e.payload.message);
      }
      this.dead = new DsError(codes.HR_ERROR, `session ${this.id}: the guest trapped in ${what}: ${e?.message ?? e}`);
      throw this.dead;
    }
  }

  /** Closes what the guest left open; returns how many. */
  closeBindings() {
    const left = [...this.bindings];
    for (const b of left) b.close();
    return left.length;
  }
}

/**
 * A prepared context (the HBC) in its own instance. Use with `using`, or
 * call end(). Ownership is checked here, before jco is entered: an ended
 * context, or one passed to another runtime, is DsError 0x80070057.
 */
class Context {
  #session;
  #handle;
  #ended = false;

  constructor(session, handle) {
    this.#session = session;
    this.#handle = handle;
  }

  /** The handle, after the ownership checks jco does not make. */
  live(runtime) {
    const what = `${this.constructor.resource} ${this.#session.id}`;
    if (runtime && runtime !== this.#session.runtime) {
      throw invalidParameter(`${what} belongs to another runtime`);
    }
    if (this.#ended) throw invalidParameter(`${what} was already ended`);
    return this.#handle;
  }

  get ended() { return this.#ended; }

  /** Calls method `what` of the live handle through its session. */
  invoke(what, f) {
    const h = this.live();
    return this.#session.call(() => f(h), what);
  }

  end() {
    return this.#session.runtime.end(this);
  }

  /** End without the guest's end (a context dropped by its owner). */
  drop() {
    this.live();
    this.#ended = true;
    const s = this.#session;
    if (!s.dead) {
      try { this.#handle[Symbol.dispose]?.(); } catch { /* cleanup */ }
    }
    s.closeBindings();
  }

  [Symbol.dispose]() {
    if (!this.#ended) this.end();
  }

  // For Runtime.end only.
  finish(runtime) {
    const h = this.live(runtime);
    this.#ended = true;
    const s = this.#session;
    try {
      if (!s.dead) s.call(() => this.constructor.client(s).end(h), 'end');
    } finally {
      s.leaked = s.closeBindings();
    }
    return s.leaked;
  }
}

/** A prepared restore context (DsRestorePrepare's HBC). */
export class RestoreContext extends Context {
  static resource = 'restore-context';
  static client = (session) => session.client;

  databaseLocations() {
    return this.invoke('database-locations', (h) => h.databaseLocations());
  }

  register(registration) {
    return this.invoke('register', (h) => h.register(registration));
  }

  registerComplete(restoreState) {
    return this.invoke('register-complete', (h) => h.registerComplete(restoreState));
  }
}

/**
 * A prepared backup context (DsBackupPrepare's HBC): one file open at a time,
 * read in chunks until DsError ERROR_HANDLE_EOF.
 */
export class BackupContext extends Context {
  static resource = 'backup-context';
  static client = (session) => session.backup;

  /** DsBackupGetDatabaseNames: `{ kind, path }` per file. */
  databaseNames() {
    return this.invoke('get-database-names', (h) => h.getDatabaseNames());
  }

  /** DsBackupOpenFile; the file's size (a Number). The hint is a multiple of 8192, at least 24576. */
  openFile(name, readHintSize = 64 << 10) {
    return Number(this.invoke('open-file', (h) => h.openFile(name, readHintSize)));
  }

  /** DsBackupRead: the next chunk; DsError ERROR_HANDLE_EOF at the end. */
  read(maxBytes = 64 << 10) {
    return this.invoke('read', (h) => h.read(maxBytes));
  }

  /** Opens `name`, yields its chunks until the end, then closes it. */
  *readFile(name, chunk = 64 << 10) {
    this.openFile(name, chunk);
    for (;;) {
      let data;
      try {
        data = this.read(chunk);
      } catch (e) {
        if (e instanceof DsError && e.code === codes.ERROR_HANDLE_EOF) break;
        throw e;
      }
      yield data;
    }
    this.closeFile();
  }

  closeFile() {
    return this.invoke('close-file', (h) => h.closeFile());
  }

  /** DsBackupGetBackupLogs: the logs, `{ kind, path }` each. */
  backupLogs() {
    return this.invoke('get-backup-logs', (h) => h.getBackupLogs());
  }

  /** DsBackupTruncateLogs: the target deletes the logs this backup read. */
  truncateLogs() {
    return this.invoke('truncate-logs', (h) => h.truncateLogs());
  }
}

export class Runtime {
  /**
   * `component`: 'dsrestore' (the guest this package carries), or the path
   * of a directory of jco output (e.g. the checkout's test guest,
   * bindings/js/generated/trapping).
   */
  static async create(transport, component = 'dsrestore') {
    return new Runtime(transport, await loadComponent(component));
  }

  constructor(transport, component) {
    this.transport = transport;
    this.component = component;
    this.identity = null;
    this.openBindings = 0;
  }

  setAuthIdentity(user, domain, password) {
    this.identity = { user, domain, password };
  }

  isNtdsOnline(server) {
    const s = new Session(this);
    try {
      return s.call(() => s.client.isNtdsOnline(server), 'is-ntds-online');
    } finally {
      s.closeBindings();
    }
  }

  prepare(server, token = null, flags = { catchup: true }) {
    const s = new Session(this);
    try {
      const handle = s.call(() => s.client.prepare(server, flags, token ?? undefined), 'prepare');
      return new RestoreContext(s, handle);
    } catch (e) {
      s.closeBindings();
      throw e;
    }
  }

  /**
   * DsBackupPrepare: `[BackupContext, token]`. `backupType` is 'full'
   * ('logs-only' and 'incremental' are refused with their codes).
   */
  prepareBackup(server, backupType = 'full', grbit = 0) {
    const s = new Session(this);
    try {
      const [handle, token] = s.call(() => s.backup.prepare(server, grbit, backupType), 'prepare');
      return [new BackupContext(s, handle), token];
    } catch (e) {
      s.closeBindings();
      throw e;
    }
  }

  /** DsRestoreEnd or DsBackupEnd; 0x80070057 for an ended context or one of another runtime. */
  end(ctx) {
    if (!(ctx instanceof Context)) throw invalidParameter(`${ctx} is not a restore-context or a backup-context`);
    return ctx.finish(this);
  }
}

export { hex };
