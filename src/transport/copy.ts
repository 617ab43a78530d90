// Closure copies the shortest way: direct build host → target, relayed through the deployer only if that fails.
import type { CopyDoneRoute } from '../events.js';
import type { Host } from './host.js';
import { tailLines, type CommandResult, type RunCommand } from './run.js';

export interface CopyResult {
  ok: boolean;
  route: CopyDoneRoute;
  error?: string;
  log: string[];
  /** The store paths the last copy (onto the target) said it copied: only those missing there. */
  copied: string[];
}

// nix-copy-closure names each path it sends, on every Nix from 2.8 and on Lix: `copying path '<path>' to 'ssh://…'...`.
const copyingPath = /^copying path '(\/nix\/store\/[^'\s]+)'/gm;

/** The paths a nix-copy-closure run copied, from its output. */
export function copiedPaths(r: Pick<CommandResult, 'stdout' | 'stderr'>): string[] {
  return [...`${r.stdout}\n${r.stderr}`.matchAll(copyingPath)].map((m) => m[1]!);
}

/** Their NAR size in bytes, asked where they came from (one command; the paths go on stdin, so any number
 *  fits), or undefined when that host cannot tell. */
export async function narBytes(host: Host, paths: readonly string[], signal?: AbortSignal): Promise<number | undefined> {
  if (paths.length === 0) return 0;
  const r = await host.run(['xargs', 'nix-store', '--query', '--size'], { input: `${paths.join('\n')}\n`, ...(signal ? { signal } : {}) });
  const sizes = r.stdout.trim().split('\n').map(Number);
  if (r.failed || sizes.length !== paths.length || sizes.some((n) => !Number.isSafeInteger(n) || n < 0)) return undefined;
  return sizes.reduce((sum, n) => sum + n, 0);
}

/** The NAR size of every path in `path`'s closure on `host` (two commands), or undefined when it cannot tell.
 *  Asked while the copy runs, so sizing what the copy sent costs it nothing; once per host and path a run. */
export function closureSizes(host: Host, path: string): Promise<ReadonlyMap<string, number> | undefined> {
  let byPath = closures.get(host);
  if (!byPath) closures.set(host, (byPath = new Map()));
  let sizes = byPath.get(path);
  if (!sizes) {
    sizes = (async () => {
      const closure = await host.run(['nix-store', '--query', '--requisites', path]);
      const paths = closure.stdout.split('\n').filter(Boolean);
      if (closure.failed || paths.length === 0) return undefined;
      const r = await host.run(['xargs', 'nix-store', '--query', '--size'], { input: `${paths.join('\n')}\n` });
      const each = r.stdout.trim().split('\n').map(Number);
      if (r.failed || each.length !== paths.length || each.some((n) => !Number.isSafeInteger(n) || n < 0)) return undefined;
      return new Map(paths.map((p, i) => [p, each[i]!]));
    })().catch(() => undefined);
    byPath.set(path, sizes);
  }
  return sizes;
}

// Per host object (one pool per run): nothing outlives the run's hosts.
const closures = new WeakMap<Host, Map<string, Promise<ReadonlyMap<string, number> | undefined>>>();

/** The bytes of `copied` from a closure's sizes; undefined when one of them is not in it. */
export function bytesOf(sizes: ReadonlyMap<string, number> | undefined, copied: readonly string[]): number | undefined {
  if (!sizes || copied.some((p) => !sizes.has(p))) return undefined;
  return copied.reduce((sum, p) => sum + sizes.get(p)!, 0);
}

function copyArgv(direction: '--to' | '--from', dest: string, paths: string[], useSubstitutes: boolean): string[] {
  return ['nix-copy-closure', direction, dest, ...(useSubstitutes ? ['--use-substitutes'] : []), ...paths];
}

/** Run nix-copy-closure on the deployer against `host`, riding its ssh master. */
export async function copyWithLocal(run: RunCommand, direction: '--to' | '--from', host: Host, paths: string[], useSubstitutes: boolean, signal?: AbortSignal): Promise<CommandResult> {
  if (!host.copyTarget) throw new Error(`copy to ${host.label}: it is the local machine`);
  await host.connect(); // ride the master: without it Nix's ssh would make a handshake of its own
  return run(copyArgv(direction, host.copyTarget.dest, paths, useSubstitutes), {
    env: { NIX_SSHOPTS: host.copyTarget.sshOpts.join(' ') }, // execa extends the environment
    signal,
  });
}

export interface CopyToTargetInput {
  run: RunCommand; // the deployer's
  from: Host; // where the closure is (local or a build host)
  to: Host;
  /** ssh options the build host should use to reach the target (no deployer control socket). */
  directSshOpts: string[];
  path: string;
  useSubstitutes: boolean;
  signal?: AbortSignal;
}

export async function copyToTarget(input: CopyToTargetInput): Promise<CopyResult> {
  const { run, from, to, path, useSubstitutes, signal } = input;
  if (from.isLocal) {
    const r = await copyWithLocal(run, '--to', to, [path], useSubstitutes, signal);
    return { ok: !r.failed, route: 'from-local', log: tailLines(r), copied: copiedPaths(r), ...(r.failed ? { error: r.message } : {}) };
  }
  const dest = to.copyTarget?.dest;
  if (!dest) throw new Error(`copy to ${to.label}: it is the local machine`);
  const direct = await from.run(['env', `NIX_SSHOPTS=${input.directSshOpts.join(' ')}`, ...copyArgv('--to', dest, [path], useSubstitutes)], { signal });
  if (!direct.failed) return { ok: true, route: 'direct', log: tailLines(direct), copied: copiedPaths(direct) };
  if (signal?.aborted) return { ok: false, route: 'direct', error: 'interrupted', log: tailLines(direct), copied: copiedPaths(direct) };
  // The build host cannot reach the target itself (firewall, keys): bring the closure through here.
  const fetched = await copyWithLocal(run, '--from', from, [path], false, signal);
  const log = [`direct copy from ${from.label} failed: ${direct.message}`, ...tailLines(direct, 5)];
  if (fetched.failed) return { ok: false, route: 'relay', error: `relay copy from ${from.label} failed: ${fetched.message}`, log: [...log, ...tailLines(fetched)], copied: copiedPaths(direct) };
  const pushed = await copyWithLocal(run, '--to', to, [path], useSubstitutes, signal);
  // What the direct attempt got across before it failed is on the target too.
  const copied = [...new Set([...copiedPaths(direct), ...copiedPaths(pushed)])];
  return { ok: !pushed.failed, route: 'relay', log: [...log, ...tailLines(pushed)], copied, ...(pushed.failed ? { error: `relay copy to ${to.label} failed: ${pushed.message}` } : {}) };
}
