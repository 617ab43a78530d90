// The CLI run in-process, as a test drives it: argv in, exit code and both streams' text out (no real terminal).
import { tmpdir } from 'node:os';
import { PassThrough } from 'node:stream';
import { runCli } from '../../src/cli/main.js';
import type { Terminal } from '../../src/terminal.js';

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  env?: Record<string, string>;
  cwd?: string;
  tty?: Terminal;
}

export async function runCliCaptured(args: string[], options: CliOptions = {}): Promise<CliRun> {
  const out = new PassThrough();
  const err = new PassThrough();
  let stdout = '';
  let stderr = '';
  out.on('data', (c: Buffer) => (stdout += c.toString()));
  err.on('data', (c: Buffer) => (stderr += c.toString()));
  const io = { stdout: out, stderr: err, env: options.env ?? {}, cwd: options.cwd ?? tmpdir(), ...(options.tty ? { tty: options.tty } : {}) };
  const code = await runCli(['node', 'fleet', ...args], io, new AbortController().signal);
  return { code, stdout, stderr };
}
