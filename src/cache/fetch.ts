// The cache route on the target: realise the system from the fleet's substituter, trusting only the cache's key.
// As the node's SSH user, as a push is: a user Nix trusts may name a substituter and its key on the command line;
// for any other user Nix ignores them, and only a cache already in the target's nix.conf works.
import type { CommandResult } from '../transport/run.js';
import { failureReason, tailLines } from '../transport/run.js';

export interface FetchSettings {
  substituter: string;
  publicKey: string;
}

/** Options, not nix.conf: nothing is left behind on the target. One download attempt and a short connect timeout,
 *  so a cache that is down turns into a fallback in seconds; no cached "not there" answer from an earlier run. */
export function fetchArgv(outPath: string, s: FetchSettings): string[] {
  return [
    'nix-store', '--realise', outPath,
    '--option', 'substituters', s.substituter,
    '--option', 'trusted-public-keys', s.publicKey,
    '--option', 'connect-timeout', '5',
    '--option', 'download-attempts', '1',
    '--option', 'narinfo-cache-negative-ttl', '0',
  ];
}

// `copying path '<path>' from '<substituter>'...` on Nix 2.8 and later.
const fetchedPath = /^copying path '(\/nix\/store\/[^'\s]+)' from /gm;

export function fetchedPaths(output: string): string[] {
  return [...new Set([...output.matchAll(fetchedPath)].map((m) => m[1]!))];
}

/** Why a target could not realise its system from the cache, and what to change: the node's line and event. */
export function explainFetchFailure(r: Pick<CommandResult, 'stdout' | 'stderr' | 'exitCode' | 'timedOut' | 'canceled'>, s: FetchSettings, user: string): string {
  const out = `${r.stdout}\n${r.stderr}`;
  const unsigned = /substitute for '(\/nix\/store\/[^']+)' from '[^']*' is not signed by any of the keys/.exec(out);
  if (unsigned) return `the cache's ${unsigned[1]} is not signed by ${keyName(s.publicKey)}: the target refused it (unsigned, or signed by another key)`;
  const tampered = /(?:NAR for '(\/nix\/store\/[^']+)'[^\n]*is incomplete|hash mismatch[^\n]*?'(\/nix\/store\/[^']+)')/.exec(out);
  if (tampered || /hash mismatch/i.test(out)) return `the cache's ${tampered?.[1] ?? tampered?.[2] ?? 'copy of a path'} does not match its signed hash: the target refused it (tampered or damaged in the cache)`;
  if (/ignoring untrusted substituter|not a trusted user/.test(out)) {
    return `\`${user}\` is not a trusted user of the target's Nix, so it may not name ${s.substituter}: add \`trusted-users = ${user}\` to the target's nix.conf, ` +
      `or put the cache there yourself (\`extra-substituters = ${s.substituter}\`, \`extra-trusted-public-keys = ${s.publicKey}\`)`;
  }
  const unreachable = /unable to download '([^']+)': ([^\n]+)/.exec(out);
  if (unreachable) return `cannot reach the cache at ${s.substituter} (${unreachable[2]!.replace(/;? ?retrying in \d+ ms$/, '').trim()})`;
  if (/don't know how to build|no substituter that can build/.test(out)) return `${s.substituter} does not have the system (or a path of it) the target needs`;
  return `could not realise it from ${s.substituter}: ${failureReason(r)}`;
}

function keyName(publicKey: string): string {
  return `the cache's key \`${publicKey.split(':')[0]}\``;
}

export interface Fetched {
  ok: boolean;
  paths: string[];
  reason?: string;
  log: string[];
}

export function readFetch(r: CommandResult, s: FetchSettings, user: string): Fetched {
  const paths = fetchedPaths(`${r.stdout}\n${r.stderr}`);
  if (!r.failed) return { ok: true, paths, log: tailLines(r) };
  return { ok: false, paths, reason: explainFetchFailure(r, s, user), log: tailLines(r) };
}
