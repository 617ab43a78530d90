// A node's `keys`: merged by name from `defaults`, its tags' `tagDefaults` and its own, defaults applied.
import path from 'node:path';
import type { Key as RawKey, Keys as RawKeys } from './schema-types.js';
import type { KeySource, ResolvedKey } from './types.js';

/** Built-in key defaults; a unit test keeps them equal to the schema's `default` annotations. */
export const KEY_DEFAULTS = { destDir: '/run/keys', user: 'root', group: 'root', permissions: '0600', uploadAt: 'pre-activation' } satisfies Required<Omit<RawKey, 'file' | 'command' | 'env'>>;

/** `"0640"`, `"640"` or 640 (YAML reads an unquoted 0640 as the number 640: its digits are the mode). */
export function parsePermissions(value: string | number): number | undefined {
  const text = typeof value === 'number' ? (Number.isSafeInteger(value) && value >= 0 ? String(value).padStart(3, '0') : '') : value;
  return /^0?[0-7]{3}$/.test(text) ? parseInt(text, 8) : undefined;
}

/** `/run/keys/` → `/run/keys`; `/` stays. */
export function cleanDir(dir: string): string {
  return dir.length > 1 ? dir.replace(/\/+$/, '') : dir;
}

/** The keys a node gets, by name, before defaults: its own win over its tags', which win over `defaults`'.
 *  Two tags giving one name differently is a semantic error, so the first tag's is taken here. */
export function mergeKeys(own: RawKeys | undefined, tags: readonly string[], tagDefaults: Readonly<Record<string, { keys?: RawKeys } | undefined>>, defaults: RawKeys | undefined): Map<string, RawKey> {
  const merged = new Map<string, RawKey>();
  const add = (keys: RawKeys | undefined, replace: boolean) => {
    for (const [name, key] of Object.entries(keys ?? {})) if (key && (replace || !merged.has(name))) merged.set(name, key);
  };
  add(own, true);
  for (const tag of tags) add(tagDefaults[tag]?.keys, false);
  add(defaults, false);
  return merged;
}

/** Assumes the schema and semantic checks passed: one source per key, a valid mode. */
export function resolveKey(name: string, raw: RawKey, dir: string): ResolvedKey {
  const destDir = cleanDir(raw.destDir ?? KEY_DEFAULTS.destDir);
  return {
    name,
    source: sourceOf(raw, dir),
    destDir,
    path: destDir === '/' ? `/${name}` : `${destDir}/${name}`,
    user: raw.user ?? KEY_DEFAULTS.user,
    group: raw.group ?? KEY_DEFAULTS.group,
    permissions: parsePermissions(raw.permissions ?? KEY_DEFAULTS.permissions)!,
    uploadAt: raw.uploadAt ?? 'pre-activation',
  };
}

function sourceOf(raw: RawKey, dir: string): KeySource {
  if (raw.file !== undefined) return { kind: 'file', path: path.resolve(dir, raw.file) };
  if (raw.command !== undefined) return { kind: 'command', argv: [...raw.command] };
  return { kind: 'env', name: raw.env! };
}

export function resolveKeys(merged: ReadonlyMap<string, RawKey>, dir: string): ResolvedKey[] {
  return [...merged].map(([name, raw]) => resolveKey(name, raw, dir)).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}
