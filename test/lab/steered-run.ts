// A real `fleet apply --json` run in this process (runApply, as the CLI calls it) with a steering driven by code:
// what a person at `-i` would press, decided from the events as they come. Used by the interactive lab test and by
// scripts/record-ui-fixtures.ts, whose fixtures are this run's stdout, byte for byte.
import { Writable } from 'node:stream';
import type { ApplyCliOptions } from '../../src/cli/apply-policy.js';
import { runApply } from '../../src/cli/commands/apply.js';
import { createSteering } from '../../src/deploy/steering.js';
import { readEventLines, type FleetEvent } from '../../src/events.js';
import type { Goal } from '../../src/goal.js';
import type { SteerCommand } from '../../src/steer.js';
import { labNixEnv } from '../../lab/index.js';
import { assertValidEvents } from '../events-validate.js';

export interface SteeredRun {
  code: number;
  /** Exactly what fleet wrote to stdout: one NDJSON event per line. */
  stdout: string;
  stderr: string;
  events: FleetEvent[];
}

export interface SteerControl {
  send(command: Exclude<SteerCommand, { type: 'abort' | 'quit' }>): void;
  /** As Ctrl+C: the run's signal aborts. */
  abort(): void;
  /** The events so far, this one included. */
  readonly events: readonly FleetEvent[];
}

/** Called once per event, in order, after fleet emitted it and got on with its work; the next waits for it. */
export type SteerHandler = (event: FleetEvent, control: SteerControl) => void | Promise<void>;

export interface SteeredOptions extends Partial<Omit<ApplyCliOptions, 'file' | 'json'>> {
  goal?: Goal;
  /** A safety net, not a measurement: the run is aborted (and fails) if it has not ended by then. */
  limitMs?: number;
}

/** Runs `fleet -f file apply --json` with the steering `steer` drives; throws what the handler threw. */
export async function runSteered(file: string, steer: SteerHandler, opts: SteeredOptions = {}): Promise<SteeredRun> {
  const { goal = 'switch', limitMs = 300_000, ...cli } = opts;
  // Nix on the deployer runs in this process's environment: offline, as in every lab run (LAB.md).
  process.env.NIX_CONFIG = labNixEnv.NIX_CONFIG;
  const steering = createSteering();
  const controller = new AbortController();
  const events: FleetEvent[] = [];
  let stdout = '';
  let stderr = '';
  let pending = '';
  let failure: unknown;
  let chain = Promise.resolve();
  const control: SteerControl = { send: (c) => steering.send(c), abort: () => controller.abort(), events };
  const fail = (error: unknown) => {
    failure ??= error;
    controller.abort();
  };
  const out = new Writable({
    write(chunk: Buffer, _encoding, done) {
      stdout += chunk.toString();
      pending += chunk.toString();
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const e of readEventLines(lines.join('\n'))) {
        events.push(e);
        // A macrotask later: fleet has reached the gate it announced (a paused run is awaiting its resume).
        chain = chain.then(() => new Promise<void>((resolve) => setImmediate(resolve))).then(() => steer(e, control)).catch(fail);
      }
      done();
    },
  });
  const err = new Writable({
    write(chunk: Buffer, _encoding, done) {
      stderr += chunk.toString();
      done();
    },
  });
  const timer = setTimeout(() => fail(new Error(`the steered run did not end within ${limitMs} ms`)), limitMs);
  let code: number;
  try {
    const options: ApplyCliOptions = { parallel: 10, ...cli, file, json: true };
    code = await runApply(goal, options, { stdout: out, stderr: err, env: { ...process.env, ...labNixEnv }, cwd: process.cwd() }, controller.signal, { steering });
    await chain;
  } finally {
    clearTimeout(timer);
  }
  if (failure !== undefined) throw failure instanceof Error ? failure : new Error(String(failure));
  assertValidEvents(events);
  return { code, stdout, stderr, events };
}
