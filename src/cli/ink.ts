// ink decides once, when it loads, whether it runs under CI (is-in-ci: then it draws nothing until exit). `-i` and
// `--watch` are a person at a terminal, whatever the shell exports: ink loads with CI and CONTINUOUS_INTEGRATION
// hidden, and they are put back at once (Nix, ssh and git still see them).
import { onlyEscapeSequences } from '../util/terminal-text.js';

export async function loadInkUi(): Promise<typeof import('../ui/ink/index.js')> {
  keepEscapesOffStderr(process.stderr);
  const hidden = ['CI', 'CONTINUOUS_INTEGRATION'].flatMap((key) => (process.env[key] === undefined ? [] : [[key, process.env[key]!] as const]));
  for (const [key] of hidden) delete process.env[key];
  try {
    return await import('../ui/ink/index.js');
  } finally {
    for (const [key, value] of hidden) process.env[key] = value;
  }
}

const guarded = new WeakSet<NodeJS.WritableStream>();

/**
 * When stderr is not a terminal (`2>log`), writes to it that are nothing but escape sequences are dropped: ink hides the
 * cursor on stdout through restore-cursor, which then writes "show the cursor" to process.stderr at exit, whatever
 * stderr is. fleet's own lines on stderr are text; idempotent.
 */
export function keepEscapesOffStderr(stderr: NodeJS.WritableStream & { isTTY?: boolean }): void {
  if (stderr.isTTY || guarded.has(stderr)) return;
  guarded.add(stderr);
  const write = stderr.write.bind(stderr) as (...args: unknown[]) => boolean;
  stderr.write = ((chunk: unknown, ...rest: unknown[]) => {
    if (!(typeof chunk === 'string' && onlyEscapeSequences(chunk))) return write(chunk, ...rest);
    const done = rest.find((r): r is () => void => typeof r === 'function');
    if (done) process.nextTick(done);
    return true;
  }) as typeof stderr.write;
}
