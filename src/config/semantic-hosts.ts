// Checks the schema cannot express, part 1: host specs, their ports and users, and `buildHost` references.
import { parseBuildHost, RESERVED_BUILD_HOSTS } from './buildhost.js';
import { describePlace } from './describe.js';
import type { Finding } from './findings.js';
import { parseHostSpec } from './hostspec.js';
import type { HostSpec } from './types.js';
import type { Path } from './yaml-source.js';

export type RawMap = Record<string, unknown>;

export function asMap(value: unknown): RawMap | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as RawMap) : undefined;
}

/** A non-empty string (empty ones are the schema's to report). */
export function asText(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

export function error(path: Path, message: string, at: Finding['at'] = 'value'): Finding {
  return { path, at, severity: 'error', message };
}

/** The host spec of a node or builder, or undefined (with a finding) when it does not parse. */
export function readHost(owner: Path, entry: RawMap, findings: Finding[]): HostSpec | undefined {
  const text = asText(entry.host);
  if (text === undefined) return undefined;
  try {
    const spec = parseHostSpec(text);
    checkPortAgrees(owner, entry, spec.port, findings);
    return spec;
  } catch (e) {
    findings.push(error([...owner, 'host'], `invalid ${describePlace([...owner, 'host'])}: ${(e as Error).message}`));
    return undefined;
  }
}

/** `port: 22` beside `host: ssh://h:2222` is a contradiction, not a precedence question. */
function checkPortAgrees(owner: Path, entry: RawMap, fromSpec: number | undefined, findings: Finding[]): void {
  const own = entry.port;
  if (fromSpec === undefined || typeof own !== 'number' || own === fromSpec) return;
  const place = describePlace([...owner, 'port']);
  findings.push(error([...owner, 'port'], `${place} is ${own} but its \`host\` gives port ${fromSpec}; keep one of them`));
}

/** Builder entries: reserved names and host specs; returns each builder's parsed host. */
export function checkBuilders(builders: RawMap, findings: Finding[]): Map<string, HostSpec | undefined> {
  const specs = new Map<string, HostSpec | undefined>();
  for (const [name, value] of Object.entries(builders)) {
    if ((RESERVED_BUILD_HOSTS as readonly string[]).includes(name)) {
      findings.push(
        error(['builders', name], `builder name \`${name}\` is reserved: \`buildHost: ${name}\` already means something; rename the builder`, 'key'),
      );
    }
    const entry = asMap(value);
    if (entry) specs.set(name, readHost(['builders', name], entry, findings));
  }
  return specs;
}

/** A `buildHost` where it is written (node or defaults). */
export function checkBuildHost(path: Path, value: unknown, builders: readonly string[], findings: Finding[]): void {
  const text = asText(value);
  if (text === undefined) return;
  try {
    parseBuildHost(text, builders);
  } catch (e) {
    findings.push(error(path, `invalid ${describePlace(path)}: ${(e as Error).message}`));
  }
}
