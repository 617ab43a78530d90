// The lab's own ed25519 keys (lab/keys.ts): OpenSSH reads them as its own, and each one is fresh.
import assert from 'node:assert/strict';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { execa } from 'execa';
import { generateKeyPair } from '../../lab/keys.js';

test('generateKeyPair: ssh-keygen reads the private key (mode 600) and derives the same public key; signing with it verifies', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'fleet-keys-'));
  try {
    const publicKey = await generateKeyPair(join(dir, 'key'), 'lab-host-a');
    assert.match(publicKey, /^ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI[A-Za-z0-9+/]{43} lab-host-a$/);
    assert.equal((await stat(join(dir, 'key'))).mode & 0o777, 0o600);
    const derived = await execa('ssh-keygen', ['-y', '-f', join(dir, 'key')]);
    assert.equal(derived.stdout.trim().split(' ').slice(0, 2).join(' '), publicKey.split(' ').slice(0, 2).join(' '));
    // A signature made with the private key checks out against the public one (ssh-keygen -Y).
    await execa('sh', ['-c', `echo "lab-host-a $(cat key.pub | cut -d' ' -f1,2)" > allowed; echo data > msg; ssh-keygen -q -Y sign -f key -n file msg; ssh-keygen -q -Y verify -f allowed -I lab-host-a -n file -s msg.sig < msg`], { cwd: dir });
    const other = await generateKeyPair(join(dir, 'key2'), 'lab-host-b');
    assert.notEqual(other.split(' ')[1], publicKey.split(' ')[1], 'a fresh key each time');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
