// The cache route's upload: each closure goes from the deployer's store to the fleet's cache once per run,
// one upload at a time, so a path two closures share crosses the uplink once (Nix skips what the cache has).
import type { CacheConfig } from '../config/types.js';
import type { Host } from '../transport/host.js';
import { narBytes } from '../transport/copy.js';
import { failureReason, tailLines } from '../transport/run.js';

/** `nix` subcommands need nix-command on Nix 2.8 (and on 2.18 without it in nix.conf); harmless where it is on. */
export const NIX_COMMAND = ['--option', 'extra-experimental-features', 'nix-command'];

// Stores that sign what they are given through their own `secret-key` parameter (Nix's binary cache stores).
const SIGNING_STORES = /^(file|s3|https?):\/\//;

export interface Uploaded {
  ok: boolean;
  paths: string[]; // sent to the cache: those it did not have yet
  skipped: number; // closure paths it had already
  bytes?: number;
  error?: string;
  log: string[];
}

/** The argv that uploads, and the one that signs first (stores without a `secret-key` parameter: ssh://, ssh-ng://).
 *  The key is named by its path, on the deployer only: never its content, never on a remote command line. */
export function uploadCommands(cache: CacheConfig, closure: string, onDeployer = true): { sign?: string[]; copy: string[] } {
  // The key file is the deployer's: a build host uploads unsigned by fleet (its nix.conf's secret-key-files signs what
  // it builds, or a `secret-key` parameter in the url names a key file of its own).
  const key = onDeployer ? cache.signingKey : undefined;
  const own = key !== undefined && SIGNING_STORES.test(cache.url);
  const url = own ? `${cache.url}${cache.url.includes('?') ? '&' : '?'}secret-key=${key}` : cache.url;
  return {
    ...(key !== undefined && !own ? { sign: ['nix', ...NIX_COMMAND, 'store', 'sign', '--key-file', key, '--recursive', closure] } : {}),
    copy: ['nix', ...NIX_COMMAND, 'copy', '--to', url, closure],
  };
}

// `nix copy` names each path it sends, on Nix 2.8 and later: `copying path '<path>' to '<store>'...`.
const copyingPath = /^copying path '(\/nix\/store\/[^'\s]+)' to /gm;

export function uploadedPaths(output: string): string[] {
  return [...new Set([...output.matchAll(copyingPath)].map((m) => m[1]!))];
}

/** Upload one closure from `local` (the deployer, or the build host that holds it) to the cache. */
export async function uploadClosure(local: Host, cache: CacheConfig, closure: string, signal?: AbortSignal): Promise<Uploaded> {
  const { sign, copy } = uploadCommands(cache, closure, local.isLocal);
  const options = signal ? { signal } : {};
  if (sign) {
    const signed = await local.run(sign, options);
    if (signed.failed) return { ok: false, paths: [], skipped: 0, error: `signing with ${cache.signingKey} failed: ${failureReason(signed)}`, log: tailLines(signed) };
  }
  const [r, closurePaths] = await Promise.all([local.run(copy, options), local.run(['nix-store', '--query', '--requisites', closure], options)]);
  const paths = uploadedPaths(`${r.stdout}\n${r.stderr}`);
  if (r.failed) return { ok: false, paths, skipped: 0, error: `upload to ${cache.url}${local.isLocal ? '' : ` from ${local.label}`} failed: ${failureReason(r)}`, log: tailLines(r) };
  const total = closurePaths.failed ? paths.length : closurePaths.stdout.split('\n').filter(Boolean).length;
  const bytes = await narBytes(local, paths, signal).catch(() => undefined);
  return { ok: true, paths, skipped: Math.max(0, total - paths.length), ...(bytes !== undefined ? { bytes } : {}), log: tailLines(r) };
}

/** One uploader per run: each closure uploaded once, uploads one after the other. */
export interface Uploader {
  /** `from`: where the closure is (the deployer or its build host); the first caller's counts. */
  upload(closure: string, from: Host, onFirst: (result: Uploaded) => void): Promise<Uploaded>;
}

export function createUploader(cache: CacheConfig, signal?: AbortSignal): Uploader {
  const done = new Map<string, Promise<Uploaded>>();
  let queue: Promise<unknown> = Promise.resolve();
  return {
    upload(closure, from, onFirst) {
      let result = done.get(closure);
      if (!result) {
        result = queue.then(() => uploadClosure(from, cache, closure, signal)).then((r) => (onFirst(r), r));
        queue = result.catch(() => undefined);
        done.set(closure, result);
      }
      return result;
    },
  };
}

// Per run: keyed by the run's host pool, so nothing outlives the run.
const uploaders = new WeakMap<object, Uploader>();

/** The run's uploader (`run` is any object that lives exactly as long as the run). */
export function uploaderOf(run: object, cache: CacheConfig, signal?: AbortSignal): Uploader {
  let uploader = uploaders.get(run);
  if (!uploader) uploaders.set(run, (uploader = createUploader(cache, signal)));
  return uploader;
}
