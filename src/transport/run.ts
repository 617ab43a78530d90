// One result shape for every command, local or remote, success or failure (as execa's).
import { execa, type ResultPromise } from 'execa';
import type { OutputStream } from '../events.js';

export interface CommandResult {
  argv: string[];
  exitCode: number | undefined;
  stdout: string;
  stderr: string;
  failed: boolean;
  timedOut: boolean;
  canceled: boolean;
  /** execa's short message: the command, exit code or signal. */
  message: string;
  /** The command wrote more than OUTPUT_LIMIT to stdout or stderr and was ended for it (its exit code may be 0). */
  overflow?: boolean;
}

/** The most output one command may keep: execa escapes a failed command's output into its error message (a NUL
 *  byte becomes six characters), and at 64 MiB of binary output that string is beyond V8's limits. */
export const OUTPUT_LIMIT = 16 * 1024 * 1024;

export interface RunOptions {
  /** stdin: text, or bytes as they are (a key's content); absent: stdin is closed. */
  input?: string | Uint8Array;
  env?: Record<string, string>;
  timeoutMs?: number;
  signal?: AbortSignal;
  /** Stream output lines as they come (build logs, activation output). */
  onLine?: (line: string) => void;
  /** Every output line as it comes, blank ones included, with its stream (fleet exec); the output is then not
   *  kept: the result's stdout and stderr are empty, so a command that prints gigabytes costs no memory. */
  onOutput?: (line: string, stream: OutputStream) => void;
  /** A lone question (a probe, a lock's renewal or release): over the host's SSH master when one is up, else over a
   *  connection of its own, opening none: one process and one handshake, not a master kept for nothing. */
  withoutMaster?: boolean;
}

export type RunCommand = (argv: string[], options?: RunOptions) => Promise<CommandResult>;

/** Run argv locally. Children get their own process group so a terminal Ctrl+C reaches only fleet,
 *  which then decides what to cancel (an activation in flight must not die with it). */
export const runLocal: RunCommand = async (argv, options = {}) => {
  const [file, ...args] = argv;
  if (!file) throw new Error('runLocal: empty argv');
  // execa splits lines itself: UTF-8 decoded across chunk boundaries, the last line kept without its newline.
  const lines = options.onOutput ? undefined : options.onLine ? forwardLines(options.onLine) : undefined;
  const output = options.onOutput;
  const child = execa(file, args, {
    reject: false,
    ...(options.input === undefined ? { stdin: 'ignore' as const } : { input: options.input }),
    ...(lines ? { stdout: lines, stderr: lines } : {}),
    ...(output ? { stdout: consumeLines(output, 'stdout'), stderr: consumeLines(output, 'stderr') } : {}),
    env: options.env,
    timeout: options.timeoutMs,
    cancelSignal: options.signal,
    detached: true,
    forceKillAfterDelay: 2000,
    stripFinalNewline: true,
    maxBuffer: OUTPUT_LIMIT,
  });
  const r = await settleAfterKill(child, options);
  return {
    argv,
    exitCode: r.exitCode,
    stdout: String(r.stdout ?? ''),
    stderr: String(r.stderr ?? ''),
    failed: r.failed,
    timedOut: r.timedOut,
    canceled: r.isCanceled,
    message: r.failed ? (r.shortMessage ?? `command failed: ${file}`) : '',
    ...(r.isMaxBuffer ? { overflow: true } : {}),
  };
};

/** Output a killed command may still deliver once it has exited, before fleet stops reading. */
const DRAIN_MS = 200;

/**
 * The result once the process has exited, also when others still hold its pipes: an ssh client riding a
 * master hands its stdout and stderr to the master, which keeps them open after the client was killed
 * (timeout, Ctrl+C) until the remote command ends. Once a killed process is gone, fleet stops reading.
 */
async function settleAfterKill<T>(child: ResultPromise & Promise<T>, options: Pick<RunOptions, 'timeoutMs' | 'signal'>): Promise<T> {
  const started = performance.now();
  let killed = false;
  const kill = () => (killed = true);
  options.signal?.addEventListener('abort', kill, { once: true });
  // Past the deadline is killed, whichever timer ran first: execa's kill can end the process before a timer of ours.
  const pastDeadline = () => options.timeoutMs !== undefined && performance.now() - started >= options.timeoutMs;
  let drain: NodeJS.Timeout | undefined;
  child.once('exit', () => {
    if (killed || pastDeadline() || options.signal?.aborted) drain = setTimeout(() => [child.stdout, child.stderr].forEach((s) => s?.destroy()), DRAIN_MS);
  });
  try {
    return await child;
  } finally {
    clearTimeout(drain);
    options.signal?.removeEventListener('abort', kill);
  }
}

/** An execa line transform that shows each non-blank line to onLine and keeps the output unchanged. */
function forwardLines(onLine: (line: string) => void) {
  return {
    preserveNewlines: true, // the result's stdout stays byte for byte what the command printed
    *transform(line: unknown) {
      const text = String(line);
      const bare = text.replace(/\r?\n$/, '');
      if (bare.trim()) onLine(bare);
      yield text;
    },
  };
}

/** An execa line transform that hands every line (without its newline) to onOutput and keeps none. */
function consumeLines(onOutput: (line: string, stream: OutputStream) => void, stream: OutputStream) {
  return {
    // eslint-disable-next-line require-yield -- yields nothing on purpose: the lines are not kept
    *transform(line: unknown) {
      onOutput(String(line), stream);
    },
  };
}

/** The last lines of a result's output: what a person needs to see of a failure. */
export function tailLines(result: Pick<CommandResult, 'stdout' | 'stderr'>, count = 20): string[] {
  const lines = `${result.stdout}\n${result.stderr}`.split('\n').filter((l) => l.trim() !== '');
  return lines.slice(-count);
}

/** Why a command failed, without its argv (an agent command line is kilobytes of script): how it
 *  ended and the last lines it wrote to stderr. */
export function failureReason(r: Pick<CommandResult, 'exitCode' | 'timedOut' | 'canceled' | 'stderr' | 'overflow'> & { message?: string }): string {
  // Not started at all: the system's reason (ENOENT, or EAGAIN/EMFILE/ENOMEM on a deployer out of resources).
  const errno = /\b(E[A-Z]{3,})\b/.exec(r.message ?? '')?.[1];
  const how = r.timedOut ? 'timed out' : r.canceled ? 'interrupted' : r.overflow ? `its output was over ${OUTPUT_LIMIT / 1024 / 1024} MiB`
    : r.exitCode === undefined ? (errno ? `could not run (${errno})` : 'could not run') : `exit ${r.exitCode}`;
  const said = r.stderr.split('\n').map((l) => l.trim()).filter(Boolean).slice(-3).join('; ');
  return said ? `${how}: ${said}` : how;
}
