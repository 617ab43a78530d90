// Reading keys on the deployer: every source of the selected nodes, before any target is touched. A source that
// fails ends the run there (exit 2). The content stays in memory, wrapped so no log or JSON can print it.
import { readFile } from 'node:fs/promises';
import { inspect } from 'node:util';
import { execa } from 'execa';
import pLimit from 'p-limit';
import type { KeySource, ResolvedFleet, ResolvedKey, ResolvedNode } from '../config/types.js';
import { UsageError } from '../errors.js';
import { quoteArgv } from '../transport/quote.js';

/** A secret's bytes: `bytes` gives them; printing, inspecting or JSON-encoding it gives `<secret>`. */
export class Secret {
  readonly #bytes: Buffer;
  constructor(bytes: Buffer) {
    this.#bytes = bytes;
  }
  get bytes(): Buffer {
    return this.#bytes;
  }
  get length(): number {
    return this.#bytes.length;
  }
  toString(): string {
    return '<secret>';
  }
  toJSON(): string {
    return '<secret>';
  }
  [inspect.custom](): string {
    return '<secret>';
  }
}

export interface LoadedKey {
  key: ResolvedKey;
  content: Secret;
}

/** Per node name, its keys with their content; a node that has none is there too (its old keys are removed). */
export type LoadedKeys = ReadonlyMap<string, readonly LoadedKey[]>;

/** A key source failed: nothing was touched. Its message names the key and the source, never the content or a
 *  command's stderr (which may echo the secret, e.g. a `pass` that printed part of it before failing). */
export class KeySourceError extends UsageError {
  constructor(message: string) {
    super(message);
    this.name = 'KeySourceError';
  }
}

/** Does this fleet upload keys at all? Only then do its nodes get a keys step (one that had keys loses them). */
export function usesKeys(fleet: Pick<ResolvedFleet, 'nodes'>): boolean {
  return Object.values(fleet.nodes).some((n) => n.keys.length > 0);
}

export interface LoadOptions {
  env: NodeJS.ProcessEnv;
  /** The fleet file's directory: where commands run. */
  cwd: string;
  signal?: AbortSignal;
}

/** Every key of `nodes`, read once per distinct source (at most 4 at a time); throws KeySourceError on the first failure. */
export async function loadKeys(nodes: readonly ResolvedNode[], options: LoadOptions): Promise<LoadedKeys> {
  const limit = pLimit(4);
  const reads = new Map<string, Promise<Secret>>();
  const read = (node: ResolvedNode, key: ResolvedKey): Promise<Secret> => {
    const id = JSON.stringify(key.source);
    let pending = reads.get(id);
    if (!pending) {
      pending = limit(() => readSource(key.source, options)).catch((error: unknown) => {
        throw new KeySourceError(`key \`${key.name}\` of node \`${node.name}\`: ${(error as Error).message}`);
      });
      reads.set(id, pending);
    }
    return pending;
  };
  const entries = await Promise.all(nodes.map(async (node): Promise<[string, LoadedKey[]]> => [
    node.name, await Promise.all(node.keys.map(async (key) => ({ key, content: await read(node, key) }))),
  ]));
  return new Map(entries);
}

/** One source's bytes; an Error whose message says which source and why (never what it printed). */
export async function readSource(source: KeySource, options: LoadOptions): Promise<Secret> {
  switch (source.kind) {
    case 'file':
      try {
        return new Secret(await readFile(source.path));
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        const why = code === 'ENOENT' ? 'does not exist' : code === 'EACCES' ? 'cannot be read (permission denied)' : code === 'EISDIR' ? 'is a directory' : `cannot be read (${code ?? 'error'})`;
        throw new Error(`file ${source.path} ${why}`);
      }
    case 'env': {
      const value = options.env[source.name];
      if (value === undefined) throw new Error(`environment variable ${source.name} is not set`);
      return new Secret(Buffer.from(value, 'utf8'));
    }
    case 'command':
      return runSourceCommand(source.argv, options);
  }
}

async function runSourceCommand(argv: string[], options: LoadOptions): Promise<Secret> {
  const [file, ...args] = argv;
  const r = await execa(file!, args, {
    reject: false,
    cwd: options.cwd,
    env: options.env,
    extendEnv: false,
    stdin: 'ignore', // closed: a command that asks (a passphrase prompt on stdin) fails instead of hanging
    encoding: 'buffer',
    stripFinalNewline: false, // the key is exactly what the command printed
    maxBuffer: 16 * 1024 * 1024,
    ...(options.signal ? { cancelSignal: options.signal } : {}),
  });
  const command = `command \`${quoteArgv(argv)}\``;
  if (!r.failed) return new Secret(Buffer.from(r.stdout));
  if (r.isCanceled) throw new Error(`${command} was interrupted`);
  if (r.code === 'ENOENT') throw new Error(`${command} was not found (run in ${options.cwd})`);
  const how = r.signal ? `was killed by ${r.signal}` : r.exitCode !== undefined ? `failed (exit ${r.exitCode})` : `could not run (${r.code ?? 'error'})`;
  const lines = Buffer.from(r.stderr ?? []).toString('utf8').split('\n').filter((l) => l.trim() !== '').length;
  const stderr = lines > 0 ? `; its stderr (${lines === 1 ? '1 line' : `${lines} lines`}) is not shown, as it may hold the secret: run it yourself to see it` : '';
  throw new Error(`${command} ${how}${stderr}`);
}

/** The selected nodes' keys when the fleet file has any (every selected node then gets a keys step), else undefined. */
export async function loadFleetKeys(fleet: Pick<ResolvedFleet, 'nodes' | 'dir'>, nodes: readonly ResolvedNode[], env: NodeJS.ProcessEnv, signal?: AbortSignal): Promise<LoadedKeys | undefined> {
  if (!usesKeys(fleet)) return undefined;
  return loadKeys(nodes, { env, cwd: fleet.dir, ...(signal ? { signal } : {}) });
}
