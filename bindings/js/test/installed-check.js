// Run only against the installed package (bindings/js/check-package.sh names
// this file; `npm test` runs *.test.js): 'dsrestore' resolves to the package
// installed from the tarball, not the checkout, and it carries its guest.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

test('the installed package is not the checkout and carries its guest', () => {
  const entry = fileURLToPath(import.meta.resolve('dsrestore'));
  const checkout = resolve(process.env.DSRESTORE_CHECKOUT);
  assert.ok(!entry.startsWith(checkout), entry);
  assert.match(entry, /\/node_modules\/dsrestore\/src\/index\.js$/);
  const guest = join(dirname(entry), '..', 'generated', 'dsrestore');
  assert.ok(existsSync(join(guest, 'component.js')), guest);
  assert.ok(!existsSync(join(dirname(entry), '..', 'generated', 'trapping')), 'no test guest in the package');
  const pkg = JSON.parse(readFileSync(join(dirname(entry), '..', 'package.json')));
  assert.equal(pkg.name, 'dsrestore');
});
