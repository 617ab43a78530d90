// Checks the schema cannot express: references between parts of the file, and settings that cannot take effect.
import { describePlace, listCode } from './describe.js';
import type { Finding } from './findings.js';
import { NODE_DEFAULTS } from './resolve.js';
import { checkBuildersMode } from './semantic-builders.js';
import { parseSshOptions, SshOptionError } from './ssh-options.js';
import { asMap, asText, checkBuilders, checkBuildHost, readHost, type RawMap } from './semantic-hosts.js';
import { checkKeys } from './semantic-keys.js';
import { checkCacheRoute } from './semantic-cache.js';
import { checkHealthChecks, checkRolloutOrder } from './semantic-rollout.js';
import type { HostSpec } from './types.js';
import type { Path } from './yaml-source.js';

/** Every semantic error and warning in the (possibly partly invalid) data; callers drop those under schema errors. */
export function checkSemantics(data: unknown): Finding[] {
  const root = asMap(data) ?? {};
  const builders = asMap(root.builders) ?? {};
  const defaults = asMap(root.defaults) ?? {};
  const nodes = asMap(root.nodes) ?? {};
  const builderNames = Object.keys(builders);
  const findings: Finding[] = [];
  const builderSpecs = checkBuilders(builders, findings);
  checkBuildersMode(root, builderSpecs, findings);
  checkBuildHost(['defaults', 'buildHost'], defaults.buildHost, builderNames, findings);
  checkSshOptions(['defaults', 'sshOptions'], defaults.sshOptions, findings);
  checkHealthChecks(['defaults', 'healthChecks'], defaults.healthChecks, findings);
  checkRolloutOrder(root, findings);
  for (const [name, value] of Object.entries(builders)) checkSshOptions(['builders', name, 'sshOptions'], asMap(value)?.sshOptions, findings);
  const specs = new Map<string, HostSpec | undefined>();
  for (const [name, value] of Object.entries(nodes)) {
    const node = asMap(value);
    if (!node) continue;
    specs.set(name, readHost(['nodes', name], node, findings));
    checkBuildHost(['nodes', name, 'buildHost'], node.buildHost, builderNames, findings);
    checkBuilderSystem(name, node, defaults, builders, findings);
    checkSshOptions(['nodes', name, 'sshOptions'], node.sshOptions, findings);
    checkHealthChecks(['nodes', name, 'healthChecks'], node.healthChecks, findings);
  }
  checkKeys(root, findings);
  checkCacheRoute(root, findings);
  checkSameTarget(nodes, defaults, specs, findings);
  warnUnusedDefaults(root, specs, builderSpecs, findings);
  return findings;
}

/** A node whose system its builder does not list would fail at build time, after minutes of evaluation. */
function checkBuilderSystem(name: string, node: RawMap, defaults: RawMap, builders: RawMap, findings: Finding[]): void {
  const system = asText(node.system ?? defaults.system);
  const builderName = asText(node.buildHost ?? defaults.buildHost);
  const builder = builderName === undefined ? undefined : asMap(builders[builderName]);
  const systems = builder?.systems;
  if (system === undefined || !Array.isArray(systems) || systems.includes(system)) return;
  const where: Path =
    node.system !== undefined ? ['nodes', name, 'system'] : node.buildHost !== undefined ? ['nodes', name, 'buildHost'] : ['nodes', name];
  findings.push({
    path: where,
    at: where.length === 2 ? 'key' : 'value',
    severity: 'error',
    message:
      `node \`${name}\` has system \`${system}\`, but its build host, builder \`${String(builderName)}\`, ` +
      `builds only ${listCode(systems.map(String))}; add \`${system}\` to its \`systems\` or pick another \`buildHost\``,
  });
}

/** Two nodes on one address and profile would deploy two systems to one profile: each run reverts the other. */
function checkSameTarget(nodes: RawMap, defaults: RawMap, specs: Map<string, HostSpec | undefined>, findings: Finding[]): void {
  const seen = new Map<string, string>();
  for (const [name, spec] of specs) {
    if (!spec) continue;
    const node = asMap(nodes[name]) ?? {};
    const port = spec.port ?? (typeof node.port === 'number' ? node.port : 22);
    const address = `${spec.host.includes(':') ? `[${spec.host}]` : spec.host}:${port}`;
    const profile = asText(node.profile) ?? asText(defaults.profile) ?? NODE_DEFAULTS.profile;
    const key = `${address} ${profile}`;
    const first = seen.get(key);
    if (first === undefined) {
      seen.set(key, name);
      continue;
    }
    findings.push({
      path: ['nodes', name, 'host'],
      at: 'value',
      severity: 'error',
      message:
        `node \`${name}\` has the same address as node \`${first}\` (\`${address}\`) and the same profile \`${profile}\`: ` +
        'deploying both would make one revert the other; remove one, or give them different `profile`s',
    });
  }
}

/** ssh options as ssh and Nix will read them (see ssh-options.ts); only lists the schema accepted are read. */
function checkSshOptions(path: Path, value: unknown, findings: Finding[]): void {
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) return;
  try {
    parseSshOptions(value);
  } catch (e) {
    if (!(e instanceof SshOptionError)) throw e;
    const where = [...path, e.index];
    findings.push({ path: where, at: 'value', severity: 'error', message: `${describePlace(where)}: ${e.message}` });
  }
}

/** Keys of `defaults` that builders inherit too. */
const BUILDER_INHERITS = ['user', 'sshOptions', 'sshConfig'];

/** A default every node (and, for what builders inherit, every builder) overrides is dead configuration, often a misplaced key. */
function warnUnusedDefaults(root: RawMap, specs: Map<string, HostSpec | undefined>, builderSpecs: Map<string, HostSpec | undefined>, findings: Finding[]): void {
  const defaults = asMap(root.defaults) ?? {};
  const entries = Object.entries(asMap(root.nodes) ?? {}).map(([name, value]) => ({ entry: asMap(value) ?? {}, spec: specs.get(name) }));
  if (entries.length === 0) return;
  const builders = Object.entries(asMap(root.builders) ?? {}).map(([name, value]) => ({ entry: asMap(value) ?? {}, spec: builderSpecs.get(name) }));
  // `keys` merge by name: a node's own keys never make those of `defaults` dead.
  for (const key of Object.keys(defaults).filter((k) => k !== 'keys')) {
    const users = BUILDER_INHERITS.includes(key) ? [...entries, ...builders] : entries;
    const overridden = users.every(({ entry, spec }) => entry[key] !== undefined || (key === 'user' && spec?.user !== undefined));
    if (!overridden) continue;
    const who = BUILDER_INHERITS.includes(key) && builders.length > 0 ? 'node and builder' : 'node';
    findings.push({
      path: ['defaults', key],
      at: 'key',
      severity: 'warning',
      message: `\`defaults.${key}\` is never used: every ${who} sets its own \`${key}\``,
    });
  }
}
