// SSH key pairs for the lab, made by ssh-keygen (ed25519: instant, and what real hosts use).
import { readFile } from 'node:fs/promises';
import { execa } from 'execa';

/** Writes <path> (mode 600) and <path>.pub; returns the public key line. */
export async function generateKeyPair(path: string, comment: string): Promise<string> {
  await execa('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', path]);
  return (await readFile(`${path}.pub`, 'utf8')).trim();
}
