// SSH key pairs for the lab: ed25519 (instant, and what real hosts use), made in this process and written in
// OpenSSH's own format, so a lab of 100+ hosts does not start 100+ ssh-keygen processes.
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { chmod, rm, writeFile } from 'node:fs/promises';

/** SSH wire encoding: a uint32 length, then the bytes. */
function sshString(data: Buffer | string): Buffer {
  const bytes = typeof data === 'string' ? Buffer.from(data) : data;
  const length = Buffer.alloc(4);
  length.writeUInt32BE(bytes.length);
  return Buffer.concat([length, bytes]);
}

function uint32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
}

export interface KeyPair {
  privateKey: string; // OpenSSH PEM ("-----BEGIN OPENSSH PRIVATE KEY-----"), unencrypted
  publicKey: string; // `ssh-ed25519 AAAA… comment`
}

/** A fresh ed25519 pair in OpenSSH's formats (openssh-key-v1, as `ssh-keygen -t ed25519 -N ''` writes it). */
export function makeKeyPair(comment: string): KeyPair {
  const jwk = generateKeyPairSync('ed25519').privateKey.export({ format: 'jwk' });
  const seed = Buffer.from(jwk.d!, 'base64url');
  const pub = Buffer.from(jwk.x!, 'base64url');
  const publicBlob = Buffer.concat([sshString('ssh-ed25519'), sshString(pub)]);
  const check = randomBytes(4);
  let secret = Buffer.concat([check, check, sshString('ssh-ed25519'), sshString(pub), sshString(Buffer.concat([seed, pub])), sshString(comment)]);
  // Padded to the cipher block size ("none": 8) with 1, 2, 3, …
  const pad = (8 - (secret.length % 8)) % 8;
  secret = Buffer.concat([secret, Buffer.from(Array.from({ length: pad }, (_v, i) => i + 1))]);
  const body = Buffer.concat([
    Buffer.from('openssh-key-v1\0'), sshString('none'), sshString('none'), sshString(''), uint32(1), sshString(publicBlob), sshString(secret),
  ]);
  const base64 = body.toString('base64').replace(/(.{70})/g, '$1\n').replace(/\n$/, '');
  return {
    privateKey: `-----BEGIN OPENSSH PRIVATE KEY-----\n${base64}\n-----END OPENSSH PRIVATE KEY-----\n`,
    publicKey: `ssh-ed25519 ${publicBlob.toString('base64')} ${comment}`,
  };
}

/** Writes <path> (mode 600) and <path>.pub; returns the public key line. */
export async function generateKeyPair(path: string, comment: string): Promise<string> {
  const pair = makeKeyPair(comment);
  await rm(path, { force: true });
  await writeFile(path, pair.privateKey, { mode: 0o600 });
  await writeFile(`${path}.pub`, `${pair.publicKey}\n`);
  return pair.publicKey;
}

/** What every lab gives its client side: a fresh key pair and an empty build witness (mode 666: builds run as nixbld users). */
export async function prepareClient(dir: string): Promise<{ key: string; clientPublicKey: string; witness: string }> {
  const key = `${dir}/id_ed25519`;
  await rm(`${key}.pub`, { force: true });
  const clientPublicKey = await generateKeyPair(key, 'fleet-lab-client');
  const witness = `${dir}/witness`;
  await writeFile(witness, '');
  await chmod(witness, 0o666);
  return { key, clientPublicKey, witness };
}
