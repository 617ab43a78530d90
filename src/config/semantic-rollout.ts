// Checks the schema cannot express for `rollout` and `healthChecks`: selectors, check kinds, URLs, names.
import { UsageError } from '../errors.js';
import { parseSelector, selectNodes } from '../select/index.js';
import { describePlace } from './describe.js';
import type { Finding } from './findings.js';
import { asMap, asText, error, type RawMap } from './semantic-hosts.js';
import type { Path } from './yaml-source.js';

/** `rollout.order`: each entry parses as a selector and matches at least one node of the fleet. */
export function checkRolloutOrder(root: RawMap, findings: Finding[]): void {
  const order = asMap(root.rollout)?.order;
  if (!Array.isArray(order)) return;
  const nodes = Object.entries(asMap(root.nodes) ?? {}).map(([name, value]) => ({ name, tags: tagsOf(asMap(value)?.tags) }));
  for (const [i, entry] of order.entries()) {
    const text = asText(entry);
    if (text === undefined) continue;
    const where: Path = ['rollout', 'order', i];
    try {
      // A typo (`tag:canray`) would silently give up the canary: an order entry must match some node.
      selectNodes(nodes, parseSelector(text));
    } catch (e) {
      if (!(e instanceof UsageError)) throw e;
      findings.push(error(where, `${describePlace(where)}: ${e.message.replace(/^--on: /, '').split('\n').join('; ')}`));
    }
  }
}

function tagsOf(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((t): t is string => typeof t === 'string') : [];
}

/** A `healthChecks` list (of `defaults` or a node): one kind per check, http-only keys on http checks, a usable URL, unique names. */
export function checkHealthChecks(path: Path, value: unknown, findings: Finding[]): void {
  if (!Array.isArray(value)) return;
  const seen = new Map<string, number>();
  for (const [i, item] of value.entries()) {
    const check = asMap(item);
    if (!check) continue;
    const where: Path = [...path, i];
    const place = describePlace(where);
    const has = (key: string) => check[key] !== undefined;
    if (has('command') && has('http')) {
      const later = Object.keys(check).filter((k) => k === 'command' || k === 'http').at(-1)!;
      findings.push(error([...where, later], `${place} must set only one of \`command\` or \`http\`, not both`, 'key'));
    } else if (!has('command') && !has('http')) {
      findings.push(error(where, `${place} must set \`command\` (run on the target) or \`http\` (a URL asked from the deployer)`));
    } else if (has('command')) {
      for (const key of ['expectStatus', 'expectBody'].filter(has)) {
        findings.push(error([...where, key], `${place}: \`${key}\` applies only to \`http\` checks; remove it or use \`http\``, 'key'));
      }
    } else {
      checkUrl([...where, 'http'], check.http, findings);
    }
    const name = asText(check.name);
    if (name === undefined) continue;
    const first = seen.get(name);
    if (first === undefined) seen.set(name, i);
    else findings.push(error([...where, 'name'], `${place}: health check name \`${name}\` is already used by ${describePlace([...path, first])}; names must be unique`));
  }
}

/** The URL once `{host}` is filled in must parse; a URL without `{host}` (a fixed monitoring endpoint) is fine. */
function checkUrl(where: Path, value: unknown, findings: Finding[]): void {
  const text = asText(value);
  if (text === undefined || !/^https?:\/\//.test(text)) return; // the schema reports it
  try {
    new URL(text.replaceAll('{host}', 'node.invalid'));
  } catch {
    findings.push(error(where, `${describePlace(where)} is not a valid URL: \`${text}\` (write e.g. \`http://{host}:8080/health\`)`));
  }
}
