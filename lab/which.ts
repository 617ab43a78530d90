// Where a tool lives: PATH, then the sbin dirs a non-login root shell may lack (sshd is in /usr/sbin).
import { accessSync, constants } from 'node:fs';

export function findExecutable(tool: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  for (const dir of [...(env.PATH ?? '').split(':'), '/usr/sbin', '/sbin', '/usr/local/sbin']) {
    if (!dir.startsWith('/')) continue;
    try {
      accessSync(`${dir}/${tool}`, constants.X_OK);
      return `${dir}/${tool}`;
    } catch {
      // not here
    }
  }
  return undefined;
}
