// Checks the schema cannot express for the cache route: `copy: cache` needs a `cache` section to upload to.
import type { Finding } from './findings.js';
import { asMap, type RawMap } from './semantic-hosts.js';
import type { Path } from './yaml-source.js';

/** Every `copy: cache` (or `cache!`) in nodes, `tagDefaults` and `defaults` of a file without `cache`. */
export function checkCacheRoute(root: RawMap, findings: Finding[]): void {
  if (root.cache !== undefined) return;
  const places: Path[] = [['defaults', 'copy']];
  for (const tag of Object.keys(asMap(root.tagDefaults) ?? {})) places.push(['tagDefaults', tag, 'copy']);
  for (const name of Object.keys(asMap(root.nodes) ?? {})) places.push(['nodes', name, 'copy']);
  for (const place of places) {
    const value = asMap(place.slice(0, -1).reduce<unknown>((m, k) => asMap(m)?.[String(k)], root))?.copy;
    if (value !== 'cache' && value !== 'cache!') continue;
    findings.push({
      path: place,
      at: 'value',
      severity: 'error',
      message: `\`copy: ${value}\` needs a binary cache: add a top-level \`cache\` with its \`url\` and \`publicKey\`, or use \`copy: push\``,
    });
  }
}
