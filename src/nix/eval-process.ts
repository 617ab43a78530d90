// Starting one evaluator process: its pid (memory is read from /proc while it runs), its stderr line by line
// (the progress marks), and ending it (over the budget: at once; Ctrl+C: SIGTERM, then SIGKILL).
import { execa } from 'execa';

export interface ProcessExit {
  exitCode: number | undefined;
  stdout: string;
  stderr: string;
  message: string;
}

export interface EvalProcess {
  pid: number | undefined;
  exit: Promise<ProcessExit>;
  /** Ends it now; `exit` settles once it is gone. */
  kill(signal: 'SIGTERM' | 'SIGKILL'): void;
}

export interface StartOptions {
  env?: Record<string, string>;
  onStderrLine: (line: string) => void;
}

export type StartProcess = (argv: string[], options: StartOptions) => EvalProcess;

export const startProcess: StartProcess = (argv, options) => {
  const [file, ...args] = argv;
  if (!file) throw new Error('startProcess: empty argv');
  const child = execa(file, args, {
    reject: false,
    stdin: 'ignore',
    stderr: { transform: forwardLines(options.onStderrLine), preserveNewlines: true },
    env: options.env,
    // Its own process group: a terminal Ctrl+C reaches fleet, which ends its workers itself.
    detached: true,
    forceKillAfterDelay: 1000,
    stripFinalNewline: true,
    maxBuffer: 256 * 1024 * 1024,
  });
  const exit = child.then((r) => ({
    exitCode: r.exitCode,
    stdout: String(r.stdout ?? ''),
    stderr: String(r.stderr ?? ''),
    message: r.failed ? (r.shortMessage ?? `command failed: ${file}`) : '',
  }));
  return { pid: child.pid, exit, kill: (signal) => void child.kill(signal) };
};

function forwardLines(onLine: (line: string) => void) {
  return function* (line: unknown) {
    const text = String(line);
    onLine(text.replace(/\r?\n$/, ''));
    yield text;
  };
}
