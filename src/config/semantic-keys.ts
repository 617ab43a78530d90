// Checks the schema cannot express for `keys` (on nodes, in `tagDefaults` and `defaults`): one source per key, a
// mode, a destination outside the Nix store, tags that exist, and tags that disagree about a key.
import { isDeepStrictEqual } from 'node:util';
import { describePlace, listCode } from './describe.js';
import type { Finding } from './findings.js';
import { cleanDir, KEY_DEFAULTS, parsePermissions } from './keys.js';
import { NODE_DEFAULTS } from './resolve.js';
import { asMap, asText, error, type RawMap } from './semantic-hosts.js';
import type { Path } from './yaml-source.js';

const SOURCES = ['file', 'command', 'env'] as const;
const KNOWN: readonly string[] = [...SOURCES, ...Object.keys(KEY_DEFAULTS)];

/** Every `keys` map of the file, and the checks that need the whole file (tags, conflicts). */
export function checkKeys(root: RawMap, findings: Finding[]): void {
  const defaults = asMap(root.defaults) ?? {};
  const tagDefaults = asMap(root.tagDefaults) ?? {};
  const nodes = asMap(root.nodes) ?? {};
  const stateDirOf = (node: RawMap) => asText(node.stateDir) ?? asText(defaults.stateDir) ?? NODE_DEFAULTS.stateDir;
  const stateDirs = Object.values(nodes).map((n) => stateDirOf(asMap(n) ?? {}));
  checkKeyMap(['defaults', 'keys'], defaults.keys, stateDirs, findings);
  for (const [tag, value] of Object.entries(tagDefaults)) checkKeyMap(['tagDefaults', tag, 'keys'], asMap(value)?.keys, stateDirs, findings);
  const used = new Set<string>();
  for (const [name, value] of Object.entries(nodes)) {
    const node = asMap(value);
    if (!node) continue;
    checkKeyMap(['nodes', name, 'keys'], node.keys, [stateDirOf(node)], findings);
    const tags = tagsOf(node.tags ?? defaults.tags);
    for (const t of tags) used.add(t);
    checkTagConflicts(name, node, tags, tagDefaults, findings);
  }
  for (const tag of Object.keys(tagDefaults).filter((t) => !used.has(t))) {
    findings.push({ path: ['tagDefaults', tag], at: 'key', severity: 'warning', message: `\`tagDefaults.${tag}\` is never used: no node has the tag \`${tag}\`` });
  }
}

function tagsOf(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((t): t is string => typeof t === 'string') : [];
}

/** One `keys` map: each key has one source, a usable mode and destination. stateDirs: the nodes it reaches. */
function checkKeyMap(where: Path, value: unknown, stateDirs: readonly string[], findings: Finding[]): void {
  for (const [name, item] of Object.entries(asMap(value) ?? {})) {
    const key = asMap(item);
    if (!key) continue;
    const at: Path = [...where, name];
    const place = describePlace(at);
    const sources = SOURCES.filter((s) => key[s] !== undefined);
    // An unknown key (`text`, colmena's `keyFile`) has its own message: "no source" would only repeat it.
    if (sources.length === 0 && Object.keys(key).every((k) => KNOWN.includes(k))) {
      findings.push(error(at, `${place} must set its source: \`file\` (read on the deployer), \`command\` (its output) or \`env\` (a variable of the deployer)`));
    } else if (sources.length > 1) {
      const later = Object.keys(key).filter((k) => (sources as readonly string[]).includes(k)).at(-1)!;
      findings.push(error([...at, later], `${place} must set only one of ${listCode(sources).replace(/ and /, ' or ')}`, 'key'));
    }
    checkPermissions([...at, 'permissions'], key.permissions, findings);
    checkDestDir([...at, 'destDir'], key.destDir, stateDirs, findings);
  }
}

function checkPermissions(where: Path, value: unknown, findings: Finding[]): void {
  if (typeof value !== 'number' && typeof value !== 'string') return;
  const mode = parsePermissions(value);
  if (mode === undefined) {
    // A string the schema refused already; a number here is what YAML made of an unquoted one (0o600 is 384).
    if (typeof value === 'number') findings.push(error(where, `${describePlace(where)} must be an octal mode such as \`"0600"\` (quoted), got the number ${value}`));
    return;
  }
  if ((mode & 0o007) !== 0) {
    const text = mode.toString(8).padStart(4, '0');
    findings.push({ path: where, at: 'value', severity: 'warning', message: `${describePlace(where)} is \`${text}\`: every user on the node can ${mode & 0o002 ? 'change' : 'read'} the key; use \`0600\`, or \`0640\` with a \`group\`` });
  }
}

function checkDestDir(where: Path, value: unknown, stateDirs: readonly string[], findings: Finding[]): void {
  const dir = asText(value);
  if (dir === undefined || !dir.startsWith('/')) return; // the schema reports it
  const place = describePlace(where);
  if (dir.split('/').some((part) => part === '.' || part === '..')) {
    findings.push(error(where, `${place} \`${dir}\` must not hold \`.\` or \`..\`: write the directory itself`));
  } else if (/^\/nix(\/|$)/.test(dir)) {
    findings.push(error(where, `${place} \`${dir}\` is in /nix, where every user can read what the store holds: keys go elsewhere (default \`${KEY_DEFAULTS.destDir}\`)`));
  } else {
    // fleet keeps the list of the keys it wrote in `<stateDir>/keys`: a key there could overwrite it.
    const clash = stateDirs.find((s) => cleanDir(dir) === `${cleanDir(s)}/keys`);
    if (clash !== undefined) findings.push(error(where, `${place} \`${dir}\` is where fleet keeps its list of the keys it wrote (\`stateDir\` \`${clash}\`): choose another directory`));
  }
}

/** Two of a node's tags giving one key name differently, with the node not choosing: which one wins is a guess. */
function checkTagConflicts(name: string, node: RawMap, tags: readonly string[], tagDefaults: RawMap, findings: Finding[]): void {
  const own = asMap(node.keys) ?? {};
  const from = new Map<string, { tag: string; key: unknown }>();
  for (const tag of tags) {
    for (const [keyName, key] of Object.entries(asMap(asMap(tagDefaults[tag])?.keys) ?? {})) {
      if (own[keyName] !== undefined) continue;
      const first = from.get(keyName);
      if (!first) from.set(keyName, { tag, key });
      else if (!isDeepStrictEqual(first.key, key)) {
        findings.push(error(['nodes', name, 'tags'], `node \`${name}\` gets key \`${keyName}\` from both \`tagDefaults.${first.tag}\` and \`tagDefaults.${tag}\`, which differ: set \`keys.${keyName}\` on the node to choose`));
      }
    }
  }
}
