// Runs the real CLI in a child process, as a user would; returns its exit code, output and NDJSON events.
import { execa, type ResultPromise } from 'execa';
import { fileURLToPath } from 'node:url';
import { readEventLines, type EventOf, type FleetEvent } from '../../src/events.js';
import { labNixEnv } from '../../lab/index.js';
import { assertValidEvents } from '../events-validate.js';

export const FLEET_BIN = fileURLToPath(new URL('../../src/cli/bin.ts', import.meta.url));
export const NIX_ENV = labNixEnv;

export interface FleetRun {
  code: number;
  stdout: string;
  stderr: string;
  events: FleetEvent[];
}

/** keepFinalNewline: stdout byte for byte (execa drops its final newline by default). */
export function spawnFleet(args: string[], env: Record<string, string> = {}, { keepFinalNewline = false } = {}): ResultPromise {
  return execa(process.execPath, ['--import', 'tsx', FLEET_BIN, ...args], {
    reject: false,
    env: { ...labNixEnv, CI: 'true', ...env },
    stdin: 'ignore',
    stripFinalNewline: !keepFinalNewline,
    timeout: 300_000,
  });
}

export { readEventLines as parseEvents } from '../../src/events.js';

export async function runFleet(args: string[], env: Record<string, string> = {}): Promise<FleetRun> {
  return finishedRun(spawnFleet(args, env), args.includes('--json'));
}

/** Waits for a fleet started with spawnFleet: its exit code, output and (with --json) its validated events. */
export async function finishedRun(child: ResultPromise, json = true): Promise<FleetRun> {
  const r = await child;
  const stdout = String(r.stdout);
  const events = json ? readEventLines(stdout) : [];
  assertValidEvents(events); // every event a lab test sees honours the contract (schema/events.schema.json)
  return { code: r.exitCode ?? -1, stdout, stderr: String(r.stderr), events };
}

export function summaryOf(run: FleetRun): Extract<FleetEvent, { type: 'summary' }> {
  const summary = run.events.find((e) => e.type === 'summary');
  if (!summary || summary.type !== 'summary') throw new Error(`no summary event; exit ${run.code}\nstdout:\n${run.stdout}\nstderr:\n${run.stderr}`);
  return summary;
}

/** The plan a run announced (apply and plan --json both emit one `plan` event). */
export function planOf(run: FleetRun): EventOf<'plan'>['plan'] {
  const e = run.events.find((x) => x.type === 'plan');
  if (!e || e.type !== 'plan') throw new Error(`no plan event; exit ${run.code}\nstdout:\n${run.stdout}\nstderr:\n${run.stderr}`);
  return e.plan;
}

/** A node's node-done event and its summary entry, as text to match error messages against. */
export function nodeDoneText(run: FleetRun, node: string): string {
  const done = run.events.find((e) => e.type === 'node-done' && e.node === node);
  return JSON.stringify({ done, summary: run.events.some((e) => e.type === 'summary') ? summaryOf(run).nodes[node] : undefined });
}

export function outcomesOf(run: FleetRun): Record<string, string> {
  return Object.fromEntries(Object.entries(summaryOf(run).nodes).map(([n, r]) => [n, r.outcome]));
}

/** Runs fleet and sends it SIGINT once an activation has started (`times` SIGINTs, 300 ms apart):
 *  a person pressing Ctrl+C mid-deploy. Resolves with the result and whether activation was seen. */
export async function interruptDuringActivation(args: string[], times = 1): Promise<{ result: Awaited<ResultPromise>; sent: boolean }> {
  const child = spawnFleet(args);
  let sent = false;
  child.stdout!.on('data', (chunk: Buffer) => {
    if (sent || !/"phase":"activate","detail":"switch-to-configuration/.test(chunk.toString())) return;
    sent = true;
    for (let i = 0; i < times; i++) setTimeout(() => child.kill('SIGINT'), i * 300);
  });
  return { result: await child, sent };
}

/** Ctrl+C (SIGINT) for a spawned `--json` run once `count` of its stdout lines hold every one of `needles`. */
export function interruptAfterLines(child: ResultPromise, needles: string[], count: number): void {
  let seen = 0;
  let text = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    text += chunk.toString();
    const lines = text.split('\n');
    text = lines.pop()!;
    for (const line of lines) if (needles.every((n) => line.includes(n)) && ++seen === count) child.kill('SIGINT');
  });
}
