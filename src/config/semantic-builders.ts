// Checks for `buildHost: builders`: Nix's remote builds need builders, a builder for each node's system, and ssh
// settings that fit one ssh_config (see nix/machines.ts).
import { isIPv6 } from 'node:net';
import { describePlace, listCode } from './describe.js';
import type { Finding } from './findings.js';
import { asMap, asText, error, type RawMap } from './semantic-hosts.js';
import { sshOptionsToConfig, SshOptionError } from './ssh-options.js';
import type { HostSpec } from './types.js';
import type { Path } from './yaml-source.js';

/** Every check for `buildHost: builders`; `builderSpecs` are the builders' parsed hosts (undefined when invalid). */
export function checkBuildersMode(root: RawMap, builderSpecs: Map<string, HostSpec | undefined>, findings: Finding[]): void {
  const builders = asMap(root.builders) ?? {};
  const defaults = asMap(root.defaults) ?? {};
  const nodes = asMap(root.nodes) ?? {};
  const users: Path[] = [];
  if (defaults.buildHost === 'builders') users.push(['defaults', 'buildHost']);
  for (const [name, value] of Object.entries(nodes)) if (asMap(value)?.buildHost === 'builders') users.push(['nodes', name, 'buildHost']);
  const inUse = users.length > 0 || Object.values(nodes).some((n) => asMap(n)?.buildHost === undefined && defaults.buildHost === 'builders');
  if (!inUse) return;
  if (Object.keys(builders).length === 0) {
    for (const where of users) findings.push(error(where, `${describePlace(where)} is \`builders\`, but no builders are defined; add some under \`builders\``));
    return;
  }
  for (const [name, value] of Object.entries(nodes)) checkNodeSystem(name, asMap(value) ?? {}, defaults, builders, findings);
  checkBuilderHosts(builderSpecs, findings);
  for (const [name, value] of Object.entries(builders)) checkBuilderOptions(name, asMap(value) ?? {}, defaults, findings);
}

/** A node's `system` must be one some builder builds; a builder listing no systems builds the deployer's own, unknown here. */
function checkNodeSystem(name: string, node: RawMap, defaults: RawMap, builders: RawMap, findings: Finding[]): void {
  if ((node.buildHost ?? defaults.buildHost) !== 'builders') return;
  const system = asText(node.system ?? defaults.system);
  if (system === undefined) return;
  const lists = Object.values(builders).map((b) => asMap(b)?.systems);
  if (lists.some((s) => !Array.isArray(s) || s.includes(system))) return;
  const known = [...new Set(lists.flatMap((s) => (Array.isArray(s) ? s.map(String) : [])))];
  const where: Path = node.system !== undefined ? ['nodes', name, 'system'] : node.buildHost !== undefined ? ['nodes', name, 'buildHost'] : ['nodes', name];
  findings.push({
    path: where,
    at: where.length === 2 ? 'key' : 'value',
    severity: 'error',
    message: `node \`${name}\` has system \`${system}\` and \`buildHost: builders\`, but no builder builds it (they build ${listCode(known)}); add \`${system}\` to a builder's \`systems\``,
  });
}

/** The generated ssh_config has a `Host <name>` block per builder, and Nix < 2.31 passes `ssh://` hosts to ssh verbatim. */
function checkBuilderHosts(specs: Map<string, HostSpec | undefined>, findings: Finding[]): void {
  const seen = new Map<string, string>();
  for (const [name, spec] of specs) {
    if (!spec) continue;
    const where: Path = ['builders', name, 'host'];
    if (isIPv6(spec.host)) {
      findings.push(error(where, `builder \`${name}\` is an IPv6 address; for \`buildHost: builders\` give it a name in an ssh_config (\`Host ${name}\` / \`HostName ${spec.host}\`) and use that name`));
      continue;
    }
    const first = seen.get(spec.host);
    if (first === undefined) seen.set(spec.host, name);
    else {
      findings.push(error(where, `builders \`${first}\` and \`${name}\` are both on host \`${spec.host}\`: with \`buildHost: builders\` ssh tells builders apart by host name; give each a name in an ssh_config (\`Host\` / \`HostName\` / \`Port\`)`));
    }
  }
}

/** A builder's ssh options (its own, else `defaults.sshOptions`) must have an ssh_config form. */
function checkBuilderOptions(name: string, builder: RawMap, defaults: RawMap, findings: Finding[]): void {
  const own = builder.sshOptions !== undefined;
  const options = own ? builder.sshOptions : defaults.sshOptions;
  if (!Array.isArray(options) || !options.every((o) => typeof o === 'string')) return;
  try {
    sshOptionsToConfig(options);
  } catch (e) {
    if (!(e instanceof SshOptionError)) throw e;
    const where: Path = own ? ['builders', name, 'sshOptions', e.index] : ['defaults', 'sshOptions', e.index];
    const inherited = own ? '' : ` (builder \`${name}\` inherits it)`;
    findings.push(error(where, `${describePlace(where)}${inherited}: ${e.message}`));
  }
}
