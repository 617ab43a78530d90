// The fleet file's `cache` and a node's `copy` route, resolved; `--copy` goes through the same parse.
import path from 'node:path';
import type { Cache as RawCache, Copy } from './schema-types.js';
import { UsageError } from '../errors.js';
import type { CacheConfig, CopySetting, ResolvedFleet } from './types.js';

export function resolveCache(raw: RawCache, dir: string): CacheConfig {
  return {
    url: raw.url,
    substituter: raw.substituter ?? raw.url,
    publicKey: raw.publicKey,
    ...(raw.signingKey !== undefined && { signingKey: path.resolve(dir, raw.signingKey) }),
  };
}

/** `push`, `cache` or `cache!` (strict); the semantic check made sure a fleet file's cache route has a cache. */
export function resolveCopy(value: Copy, cache: CacheConfig | undefined): CopySetting {
  if (value === 'push' || cache === undefined) return { route: 'push' };
  return { route: 'cache', strict: value === 'cache!', cache };
}

export const COPY_VALUES: readonly Copy[] = ['push', 'cache', 'cache!'];

/** The word the fleet file and `--copy` use for a setting. */
export function copyWord(copy: CopySetting): Copy {
  return copy.route === 'push' ? 'push' : copy.strict ? 'cache!' : 'cache';
}

/** `--copy` over every node's own route; `cache` needs the fleet file's `cache` to upload to. */
export function withCopyFlag(fleet: ResolvedFleet, copy: Copy | undefined): ResolvedFleet {
  if (copy === undefined) return fleet;
  if (copy !== 'push' && fleet.cache === undefined) {
    throw new UsageError(`--copy ${copy} needs a binary cache: ${fleet.file} has no top-level \`cache\` (its \`url\` and \`publicKey\`)`);
  }
  const setting = resolveCopy(copy, fleet.cache);
  const nodes = Object.fromEntries(Object.entries(fleet.nodes).map(([name, node]) => [name, { ...node, copy: setting }]));
  return { ...fleet, nodes };
}
