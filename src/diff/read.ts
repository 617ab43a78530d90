// Reading closures where the system lives (a target, the deployer, a build host): one round trip for every
// path asked there, with commands every Nix has (2.8 up to Lix): `nix-store --query --requisites`, then `--size`.
import { randomBytes } from 'node:crypto';
import type { Host } from '../transport/host.js';
import { failureReason } from '../transport/run.js';
import type { Closure } from './closure.js';

/** $1: a per-call token, so nothing a login shell prints can pass for the answer; then the systems, each
 *  answered under `<token>-<index>`. `--size` prints one line per argument, in order; xargs keeps a big closure
 *  under ARG_MAX. A failing query stops the script: the systems after it get no answer. */
export const CLOSURE_SCRIPT = `t=$1; shift; i=0
for p; do
  if nix-store --check-validity "$p" >/dev/null 2>&1; then
    paths=$(nix-store --query --requisites "$p") || exit
    sizes=$(printf '%s\\n' "$paths" | xargs nix-store --query --size) || exit
    echo "$t-$i paths"; printf '%s\\n' "$paths"; echo "$t-$i sizes"; printf '%s\\n' "$sizes"; echo "$t-$i end"
  else echo "$t-$i absent"; fi
  i=$((i + 1))
done`;

export function closureArgv(paths: readonly string[], token: string): string[] {
  return ['sh', '-c', CLOSURE_SCRIPT, 'fleet-closure', token, ...paths];
}

/** The marker of the answer about the index-th path of one call. */
export const answerToken = (token: string, index: number) => `${token}-${index}`;

/** What Nix allows in a store path's components: a target's answer with anything else (an escape sequence that
 *  `fleet diff` would print) is refused here, once, instead of cleaned in every place that shows a package. */
const STORE_PATH = /^(\/[A-Za-z0-9+._?=-]+)+$/;

export type ClosureAnswer = { present: true; closure: Closure } | { present: false };

export class ClosureReadError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ClosureReadError';
  }
}

/** One path's answer in the script's output → the closure; throws on anything malformed. */
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
    if (!/^\d+$/.test(size) || !STORE_PATH.test(paths[i]!)) throw new ClosureReadError(`unexpected answer line: ${JSON.stringify(paths[i])} ${JSON.stringify(size)}`);
    closure.set(paths[i]!, Number(size));
  }
  return { present: true, closure };
}

/** The closures of `paths` on `host` in one round trip, one answer per path (`present: false` when its store
 *  does not hold it). A failed call fails the path it stopped at and those after it, not the answers before. */
export function readClosures(host: Host, paths: readonly string[], options: { signal?: AbortSignal; timeoutMs?: number } = {}): Promise<ClosureAnswer>[] {
  const token = `fleet-${randomBytes(8).toString('hex')}`;
  const reply = host.run(closureArgv(paths, token), { ...(options.signal ? { signal: options.signal } : {}), ...(options.timeoutMs ? { timeoutMs: options.timeoutMs } : {}) });
  return paths.map(async (path, index) => {
    const r = await reply;
    if (r.failed) {
      const lines = r.stdout.split('\n');
      const answered = (i: number) => lines.includes(`${answerToken(token, i)} absent`) || lines.includes(`${answerToken(token, i)} end`);
      let stopped = 0;
      while (stopped < paths.length && answered(stopped)) stopped++;
      if (index >= stopped) throw new ClosureReadError(`cannot read the closure of ${paths[stopped] ?? path} on ${host.label}: ${failureReason(r)}`);
    }
    return parseClosureOutput(r.stdout, answerToken(token, index));
  });
}
