// SSH key pairs for the lab, made by ssh-keygen (ed25519: instant, and what real hosts use).
import { chmod, readFile, rm, writeFile } from 'node:fs/promises';
import { execa } from 'execa';

/** Writes <path> (mode 600) and <path>.pub; returns the public key line. */
export async function generateKeyPair(path: string, comment: string): Promise<string> {
  await execa('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', path]);
  return (await readFile(`${path}.pub`, 'utf8')).trim();
}

/** What every lab gives its client side: a fresh key pair and an empty build witness (mode 666: builds run as nixbld users). */
export async function prepareClient(dir: string): Promise<{ key: string; clientPublicKey: string; witness: string }> {
  const key = `${dir}/id_ed25519`;
  await rm(key, { force: true });
  await rm(`${key}.pub`, { force: true });
  const clientPublicKey = await generateKeyPair(key, 'fleet-lab-client');
  const witness = `${dir}/witness`;
  await writeFile(witness, '');
  await chmod(witness, 0o666);
  return { key, clientPublicKey, witness };
}
