// Words for places and values in the fleet file, so every message reads the same way.

type Path = (string | number)[];

/** `port` of node `web-1`, `defaults.user`, `nix.file`, node `web-1`, the fleet file. */
export function describePlace(path: Path): string {
  const [section, name, ...rest] = path;
  if (path.length === 0) return 'the fleet file';
  if ((section === 'nodes' || section === 'builders') && name !== undefined) {
    const owner = `${section === 'nodes' ? 'node' : 'builder'} \`${name}\``;
    return rest.length === 0 ? owner : `${code(rest)} of ${owner}`;
  }
  return code(path);
}

/** Where a key sits: `at the top level`, `in node \`web-1\``, `in \`defaults\``. */
export function describeContainer(path: Path): string {
  return path.length === 0 ? 'at the top level' : `in ${describePlace(path)}`;
}

/** `a.b[2]` in backquotes. */
function code(path: Path): string {
  const text = path.map((s, i) => (typeof s === 'number' ? `[${s}]` : i === 0 ? s : `.${s}`)).join('');
  return `\`${text}\``;
}

/** How a YAML value looks to the person who wrote it. */
export function describeValue(value: unknown): string {
  if (value === null || value === undefined) return 'an empty value';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  if (typeof value === 'string') return `the string ${JSON.stringify(value)}`;
  if (typeof value === 'number') return `the number ${value}`;
  return String(value);
}

/** What a JSON Schema type (or `a,b`, as ajv reports a union) is called in YAML terms. */
export function describeType(type: string): string {
  if (type.includes(',')) return type.split(',').map(describeType).join(' or ');
  const names: Record<string, string> = {
    string: 'a string',
    integer: 'a whole number',
    number: 'a number',
    boolean: '`true` or `false`',
    array: 'a list',
    object: 'a mapping',
    null: 'empty',
  };
  return names[type] ?? type;
}

/** `a`, `b` and `c` */
export function listCode(words: readonly string[]): string {
  const quoted = words.map((w) => `\`${w}\``);
  return quoted.length <= 1 ? (quoted[0] ?? '') : `${quoted.slice(0, -1).join(', ')} and ${quoted.at(-1)}`;
}
