// Health checks after activation: each check in order, each with bounded attempts; the first check that
// runs out of attempts fails the node. One `health` event per attempt.
import { setTimeout as sleep } from 'node:timers/promises';
import type { HealthCheck } from '../config/types.js';
import type { EmitEvent } from '../events.js';
import { boundedArgv } from '../transport/deadline.js';
import { failureReason, tailLines } from '../transport/run.js';
import type { Target } from '../transport/target.js';
import { askHttp, seconds } from './http.js';

export interface HealthInput {
  /** The node: command checks run there, privileged (as the activation). */
  target: Pick<Target, 'node' | 'runPrivileged'>;
  checks: readonly HealthCheck[];
  /** What `{host}` becomes in http checks: the node's address (ResolvedNode.host), IPv6 without brackets. */
  address: string;
  emit: EmitEvent;
  /** Stops between and during attempts: the result is then not ok, with `interrupted`. */
  signal?: AbortSignal;
}

export interface HealthResult {
  ok: boolean;
  /** The check that failed (its last attempt's detail: how it ended and its last output). */
  failed?: { check: string; detail: string };
  /** The signal fired before every check passed. */
  interrupted?: boolean;
}

interface Attempt {
  ok: boolean;
  detail: string;
}

/** Output lines a detail keeps (the newest). */
const DETAIL_LINES = 5;

export async function runHealthChecks(input: HealthInput): Promise<HealthResult> {
  for (const check of input.checks) {
    const attempts = check.retries + 1;
    let last: Attempt = { ok: false, detail: 'not attempted' };
    for (let attempt = 1; attempt <= attempts; attempt++) {
      if (input.signal?.aborted) return interrupted(check, last);
      last = check.kind === 'command' ? await runCommand(input, check) : await askHttp(check, input.address, input.signal);
      if (input.signal?.aborted && !last.ok) return interrupted(check, last);
      input.emit({ type: 'health', node: input.target.node.name, check: check.name, attempt, attempts, ok: last.ok, detail: last.detail });
      if (last.ok) break;
      if (attempt < attempts) await sleep(check.intervalMs, undefined, { signal: input.signal }).catch(() => undefined);
    }
    if (!last.ok) return { ok: false, failed: { check: check.name, detail: last.detail } };
  }
  return { ok: true };
}

function interrupted(check: HealthCheck, last: Attempt): HealthResult {
  return { ok: false, interrupted: true, failed: { check: check.name, detail: `interrupted (last attempt: ${last.detail})` } };
}

async function runCommand(input: HealthInput, check: Extract<HealthCheck, { kind: 'command' }>): Promise<Attempt> {
  // The transport bounds every remote command on the target, as the SSH user. Under escalation a bound runs as root
  // inside it too: sudo passes the deadline's signal on to the command alone, and its children (root) would stay.
  const command = input.target.node.user === 'root' ? check.command : boundedArgv(check.command, check.timeoutMs);
  const r = await input.target.runPrivileged(command, { timeoutMs: check.timeoutMs, ...(input.signal && { signal: input.signal }) });
  const output = tailLines(r, DETAIL_LINES);
  const ok = !r.failed && r.exitCode === 0;
  const how = ok ? 'exit 0' : r.timedOut ? `timed out after ${seconds(check.timeoutMs)}` : r.canceled ? 'interrupted' : r.overflow ? failureReason(r) : r.exitCode === undefined ? `could not run: ${r.message}` : `exit ${r.exitCode}`;
  return { ok, detail: output.length > 0 ? `${how}: ${output.join('\n')}` : how };
}
