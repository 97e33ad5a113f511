// Transpiles the guest components with jco (--instantiation sync) into
// generated/: the shipped guest (which `npm pack` puts in the package) and,
// when it is built, the trapping test guest (the tests need it; the package
// does not carry it). Build them first:
//   cargo build --release --target wasm32-wasip2 -p dsrestore -p dsrestore-test-trapping-guest
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..', '..');
const release = join(root, 'target', 'wasm32-wasip2', 'release');
const jco = join(here, '..', 'node_modules', '.bin', 'jco');

for (const [name, file, required] of [
  ['dsrestore', 'dsrestore.wasm', true],
  ['trapping', 'dsrestore_test_trapping_guest.wasm', false],
]) {
  const wasm = join(release, file);
  if (!existsSync(wasm) && !required) {
    console.warn(`${wasm} is not built: the tests of the trapping guest will fail (cargo build --release --target wasm32-wasip2 -p dsrestore-test-trapping-guest)`);
    continue;
  }
  if (!existsSync(wasm)) {
    throw new Error(`${wasm} is missing: run cargo build --release --target wasm32-wasip2 -p dsrestore -p dsrestore-test-trapping-guest`);
  }
  const out = join(here, '..', 'generated', name);
  mkdirSync(out, { recursive: true });
  execFileSync(jco, ['transpile', wasm, '--instantiation', 'sync', '--name', 'component', '--quiet', '-o', out], { stdio: 'inherit' });
  // The generated module is ESM; say so to Node inside generated/.
  writeFileSync(join(out, 'package.json'), '{ "type": "module" }\n');
}
