// Pure comparison of two closures (store path → NAR size), per package name, as `nix store diff-closures`
// does: linear in the number of paths, so 500 nodes × thousands of paths stay fast.
import { parsePackage } from './names.js';

/** A closure: every store path of a system with its NAR size in bytes. */
export type Closure = ReadonlyMap<string, number>;

/** One package name whose versions or size changed. Versions are those only on one side ('' = no version). */
export interface PackageChange {
  name: string;
  before: string[];
  after: string[];
  /** Bytes: total NAR size of the name's paths after minus before. */
  sizeDelta: number;
}

export interface ClosureDiff {
  /** Names absent before. */
  added: PackageChange[];
  /** Names absent after. */
  removed: PackageChange[];
  /** Names on both sides whose versions differ, or whose size moved by at least SIZE_THRESHOLD. */
  changed: PackageChange[];
  sizeBefore: number;
  sizeAfter: number;
}

/** Below this, a same-version size change is noise (a rebuild against new inputs): Nix's own threshold. */
export const SIZE_THRESHOLD = 8 * 1024;

interface NameInfo {
  versions: Set<string>;
  size: number;
}

function byName(closure: Closure): { names: Map<string, NameInfo>; total: number } {
  const names = new Map<string, NameInfo>();
  let total = 0;
  for (const [path, size] of closure) {
    const { name, version } = parsePackage(path);
    let info = names.get(name);
    if (!info) names.set(name, (info = { versions: new Set(), size: 0 }));
    info.versions.add(version);
    info.size += size;
    total += size;
  }
  return { names, total };
}

const sortedVersions = (versions: Iterable<string>) => [...versions].sort();
const byPackageName = (a: PackageChange, b: PackageChange) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

export function diffClosures(before: Closure, after: Closure): ClosureDiff {
  const old = byName(before);
  const neu = byName(after);
  const diff: ClosureDiff = { added: [], removed: [], changed: [], sizeBefore: old.total, sizeAfter: neu.total };
  for (const [name, was] of old.names) {
    const now = neu.names.get(name);
    if (!now) {
      diff.removed.push({ name, before: sortedVersions(was.versions), after: [], sizeDelta: -was.size });
      continue;
    }
    const gone = [...was.versions].filter((v) => !now.versions.has(v));
    const come = [...now.versions].filter((v) => !was.versions.has(v));
    const sizeDelta = now.size - was.size;
    if (gone.length > 0 || come.length > 0 || Math.abs(sizeDelta) >= SIZE_THRESHOLD) {
      diff.changed.push({ name, before: sortedVersions(gone), after: sortedVersions(come), sizeDelta });
    }
  }
  for (const [name, now] of neu.names) {
    if (!old.names.has(name)) diff.added.push({ name, before: [], after: sortedVersions(now.versions), sizeDelta: now.size });
  }
  diff.added.sort(byPackageName);
  diff.removed.sort(byPackageName);
  diff.changed.sort(byPackageName);
  return diff;
}

/** Whether two nodes' diffs read the same (their total sizes may still differ: shown as a range). */
export function changeKey(diff: ClosureDiff): string {
  return JSON.stringify([diff.added, diff.removed, diff.changed]);
}
