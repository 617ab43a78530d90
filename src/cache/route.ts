// One node on the cache route: its closure uploaded (once per run, src/cache/upload.ts), then fetched by the target.
// When it cannot be fetched the copy stage pushes instead (or, strict, fails): this says which, and why.
import type { CacheConfig, ResolvedNode } from '../config/types.js';
import type { EmitEvent } from '../events.js';
import type { Host } from '../transport/host.js';
import type { Target } from '../transport/target.js';
import { bytesOf, closureSizes } from '../transport/copy.js';
import { fetchArgv, readFetch } from './fetch.js';
import { uploaderOf } from './upload.js';

export interface CacheCopyInput {
  /** Any object that lives exactly as long as the run (its host pool): the upload is once per run. */
  run: object;
  /** Where the closure is: the deployer, or the build host that built it (it uploads directly). */
  from: Host;
  target: Target;
  node: ResolvedNode;
  cache: CacheConfig;
  outPath: string;
  emit: EmitEvent;
  signal?: AbortSignal;
}

export type CacheCopy = { ok: true } | { ok: false; reason: string; log: string[] };

export async function copyViaCache(input: CacheCopyInput): Promise<CacheCopy> {
  const { from, cache, outPath, emit, node, signal } = input;
  const uploaded = await uploaderOf(input.run, cache, signal).upload(outPath, from, (r) => emit({
    type: 'cache-upload', url: cache.url, closures: 1, ok: r.ok, paths: r.paths.length, skipped: r.skipped,
    ...(r.bytes !== undefined ? { bytes: r.bytes } : {}), ...(r.error !== undefined ? { error: r.error } : {}),
  }));
  if (!uploaded.ok) return { ok: false, reason: uploaded.error ?? 'the upload to the cache failed', log: uploaded.log };
  const sizes = closureSizes(from, outPath);
  const r = await input.target.run(fetchArgv(outPath, cache), signal ? { signal } : {});
  const fetched = readFetch(r, cache, node.user);
  if (!fetched.ok) return { ok: false, reason: fetched.reason!, log: fetched.log };
  const bytes = bytesOf(await sizes, fetched.paths);
  emit({ type: 'copy-done', node: node.name, route: 'cache', paths: fetched.paths.length, ...(bytes !== undefined ? { bytes } : {}) });
  return { ok: true };
}
