// Reading a closure where the system lives (a target, the deployer, a build host): one round trip, with
// commands every Nix has (2.8 up to Lix): `nix-store --query --requisites`, then `--size` of every path.
import { randomBytes } from 'node:crypto';
import type { Host } from '../transport/host.js';
import { failureReason } from '../transport/run.js';
import type { Closure } from './closure.js';

/** $1: the system, $2: a per-call token, so nothing a login shell prints can pass for the answer.
 *  `--size` prints one line per argument, in order; xargs keeps a big closure under ARG_MAX. */
export const CLOSURE_SCRIPT = `nix-store --check-validity "$1" >/dev/null 2>&1 || { echo "$2 absent"; exit 0; }
paths=$(nix-store --query --requisites "$1") || exit
sizes=$(printf '%s\\n' "$paths" | xargs nix-store --query --size) || exit
echo "$2 paths"; printf '%s\\n' "$paths"; echo "$2 sizes"; printf '%s\\n' "$sizes"`;

export function closureArgv(path: string, token: string): string[] {
  return ['sh', '-c', CLOSURE_SCRIPT, 'fleet-closure', path, token];
}

export type ClosureAnswer = { present: true; closure: Closure } | { present: false };

export class ClosureReadError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ClosureReadError';
  }
}

/** The script's output → the closure; throws on anything malformed. */
export function parseClosureOutput(stdout: string, token: string): ClosureAnswer {
  const lines = stdout.split('\n');
  if (lines.includes(`${token} absent`)) return { present: false };
  const start = lines.indexOf(`${token} paths`);
  const middle = lines.indexOf(`${token} sizes`);
  if (start < 0 || middle < start) throw new ClosureReadError('unexpected answer: no closure in it');
  const paths = lines.slice(start + 1, middle);
  const sizes = lines.slice(middle + 1, middle + 1 + paths.length);
  if (paths.length === 0 || sizes.length !== paths.length) throw new ClosureReadError(`unexpected answer: ${paths.length} paths but ${sizes.length} sizes`);
  const closure = new Map<string, number>();
  for (let i = 0; i < paths.length; i++) {
    const size = sizes[i]!;
    if (!/^\d+$/.test(size) || !paths[i]!.startsWith('/')) throw new ClosureReadError(`unexpected answer line: ${JSON.stringify(paths[i])} ${JSON.stringify(size)}`);
    closure.set(paths[i]!, Number(size));
  }
  return { present: true, closure };
}

/** The closure of `path` on `host`, or `present: false` when its store does not hold it. */
export async function readClosure(host: Host, path: string, options: { signal?: AbortSignal; timeoutMs?: number } = {}): Promise<ClosureAnswer> {
  const token = `fleet-${randomBytes(8).toString('hex')}`;
  const r = await host.run(closureArgv(path, token), { ...(options.signal ? { signal: options.signal } : {}), ...(options.timeoutMs ? { timeoutMs: options.timeoutMs } : {}) });
  if (r.failed) throw new ClosureReadError(`cannot read the closure of ${path} on ${host.label}: ${failureReason(r)}`);
  return parseClosureOutput(r.stdout, token);
}
