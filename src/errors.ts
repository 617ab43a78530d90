// Typed errors: the CLI maps each class to an exit code; nothing else decides how fleet ends.

/** One problem in a fleet file, pointing at the offending key or value. */
export interface Diagnostic {
  file: string;
  line: number; // 1-based
  col: number; // 1-based
  severity: 'error' | 'warning';
  message: string;
}

export function formatDiagnostic(d: Diagnostic): string {
  return `${d.file}:${d.line}:${d.col}: ${d.severity === 'warning' ? 'warning: ' : ''}${d.message}`;
}

/** The fleet file is invalid; carries every problem found in one run. */
export class ConfigError extends Error {
  readonly diagnostics: Diagnostic[];
  constructor(diagnostics: Diagnostic[]) {
    super(diagnostics.map(formatDiagnostic).join('\n'));
    this.name = 'ConfigError';
    this.diagnostics = diagnostics;
  }
}

/** The command line asked for something impossible (bad selector, bad option value). */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export type Phase = 'evaluate' | 'query' | 'build' | 'copy' | 'activate' | 'verify' | 'confirm' | 'health' | 'rollback' | 'connect' | 'ready' | 'keys' | 'reboot';

/** A step on one node failed; `cause` keeps the underlying command result or error. */
export class NodeError extends Error {
  readonly node: string;
  readonly phase: Phase;
  readonly log: string;
  constructor(node: string, phase: Phase, message: string, options: { cause?: unknown; log?: string } = {}) {
    super(`${node}: ${phase}: ${message}`, { cause: options.cause });
    this.name = 'NodeError';
    this.node = node;
    this.phase = phase;
    this.log = options.log ?? '';
  }
}

/** Exit codes are a contract with CI: documented in `fleet --help` and the README. */
export const ExitCode = {
  ok: 0,
  nodesFailed: 1,
  usage: 2,
  unsafe: 3,
  interrupted: 130,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];
