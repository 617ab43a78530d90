// `buildHost`: `local`, `target`, `builders`, a builder's name, or a host spec; a bare word must be a builder.
import { suggest } from '../util/suggest.js';
import { listCode } from './describe.js';
import { parseHostSpec } from './hostspec.js';
import type { BuildHostRef } from './types.js';

const BARE_WORD = /^[A-Za-z0-9_][A-Za-z0-9_-]*$/;

/** `buildHost` words that are not builder names, so no builder may be called so. */
export const RESERVED_BUILD_HOSTS = ['local', 'target', 'builders'] as const;

/** Classifies a `buildHost` value; throws Error(message) for an unknown builder or a bad host spec. */
export function parseBuildHost(value: string, builders: readonly string[]): BuildHostRef {
  if (value === 'local') return { kind: 'local' };
  if (value === 'target') return { kind: 'target' };
  if (value === 'builders') return { kind: 'builders' };
  if (builders.includes(value)) return { kind: 'builder', name: value };
  if (BARE_WORD.test(value)) throw new Error(explainUnknownBuilder(value, builders));
  return { kind: 'host', spec: parseHostSpec(value) };
}

function explainUnknownBuilder(value: string, builders: readonly string[]): string {
  const close = suggest(value, [...RESERVED_BUILD_HOSTS, ...builders]);
  const known = builders.length > 0 ? `builders: ${listCode(builders)}` : 'no builders are defined';
  return (
    `\`${value}\` is not \`local\`, \`target\`, \`builders\` or a builder name${close ? `; did you mean \`${close}\`?` : ''} (${known}). ` +
    `To build on a machine called \`${value}\`, write a host spec such as \`root@${value}\` or \`ssh://${value}\``
  );
}
