// Evaluation at scale with the real Nix: a hive whose nodes each retain ~65 MB (lab/heavy-hive.ts). The budget holds
// (the process table sampled by the test itself, not by fleet), broken nodes are isolated with Nix's message, a node
// over the budget runs alone, Ctrl+C leaves no evaluator, chunks stream, and the CLI reports it all as events.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { execa } from 'execa';
import type { ResolvedNode } from '../../src/config/types.js';
import type { EventBody } from '../../src/events.js';
import { evaluateNodes, evaluateStream } from '../../src/nix/eval.js';
import { startProcess, type StartProcess } from '../../src/nix/eval-process.js';
import { INTERRUPTED } from '../../src/nix/eval-run.js';
import { labNixEnv } from '../../lab/index.js';
import { writeHeavyHive } from '../../lab/heavy-hive.js';
import { runFleet, summaryOf } from './run-fleet.js';
import { requireLabCapable } from './support.js';

const MiB = 2 ** 20;
const nodesNamed = (names: readonly string[]) => names.map((name) => ({ name }) as ResolvedNode);
const names = (prefix: string, n: number) => Array.from({ length: n }, (_v, i) => `${prefix}${String(i + 1).padStart(2, '0')}`);
const bytes = (mib: number) => ({ kind: 'bytes' as const, bytes: mib * MiB });

/** nix-instantiate processes evaluating `hive` now: pid and resident memory, from the process table. */
function evaluators(hive: string): { pid: number; rss: number }[] {
  const found: { pid: number; rss: number }[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const argv = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      if (!argv[0]?.endsWith('nix-instantiate') || !argv.includes(hive)) continue;
      const rss = Number(/^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${entry}/status`, 'utf8'))?.[1] ?? 0) * 1024;
      found.push({ pid: Number(entry), rss });
    } catch {
      // gone between readdir and read
    }
  }
  return found;
}

/** Samples the sum of the evaluators' memory every 20 ms until stopped; returns the highest sum and count seen. */
function watchMemory(hive: string): { stop: () => { peak: number; most: number } } {
  let peak = 0;
  let most = 0;
  const timer = setInterval(() => {
    const now = evaluators(hive);
    peak = Math.max(peak, now.reduce((sum, p) => sum + p.rss, 0));
    most = Math.max(most, now.length);
  }, 20);
  return { stop: () => (clearInterval(timer), { peak, most }) };
}

function collect(): { events: EventBody[]; emit: (e: EventBody) => void } {
  const events: EventBody[] = [];
  return { events, emit: (e) => events.push(e) };
}

async function storeHas(path: string): Promise<boolean> {
  return (await execa('nix-store', ['--check-validity', path], { reject: false, env: labNixEnv })).exitCode === 0;
}

describe('evaluation at scale with real Nix', { skip: requireLabCapable() }, () => {
  test('the budget holds: the evaluators together, sampled from the process table, stay within it; chunks are sized from measurement', { timeout: 300_000 }, async () => {
    const dir = await mkdtemp('/tmp/fleet-eval-scale-');
    const all = names('m', 16);
    const hive = await writeHeavyHive(join(dir, 'hive.nix'), all);
    const budget = 1200;
    const { events, emit } = collect();
    const watch = watchMemory(hive);
    const r = await evaluateNodes({ nix: { file: hive, evalMemory: bytes(budget), evalWorkers: 2 } }, nodesNamed(all), { env: labNixEnv, emit });
    const seen = watch.stop();
    assert.deepEqual(r.errors, []);
    assert.deepEqual(Object.keys(r.results).sort(), all);
    for (const name of all) assert.ok(await storeHas(r.results[name]!.drvPath), `${name}'s derivation is in the store`);
    assert.ok(seen.peak > 0 && seen.peak <= budget * MiB, `sampled ${Math.round(seen.peak / MiB)} MiB, budget ${budget} MiB`);
    const chunks = events.flatMap((e) => (e.type === 'eval-chunk' ? [e] : []));
    assert.equal(chunks[0]!.nodes.length, 1, 'the first chunk is a one-node probe');
    assert.ok(chunks.some((c) => c.nodes.length > 1), 'later chunks take several nodes');
    assert.ok(chunks.every((c) => c.ended === 'done' && c.peakRss > 0));
    assert.equal(seen.most, 2, 'two workers ran at once');
    const done = events.find((e) => e.type === 'eval-done');
    assert.ok(done?.type === 'eval-done' && done.nodes === 16 && done.peakRss <= budget * MiB && done.budget === budget * MiB);
  });

  test('broken nodes (throw, assert, a type error, infinite recursion) each fail alone with Nix\'s message; the others evaluate once', { timeout: 300_000 }, async () => {
    const dir = await mkdtemp('/tmp/fleet-eval-broken-');
    const good = names('g', 8);
    const order = ['g01', 'g02', 'b-throw', 'g03', 'b-assert', 'g04', 'g05', 'b-type', 'g06', 'g07', 'b-recursion', 'g08'];
    const hive = await writeHeavyHive(join(dir, 'hive.nix'), order, {
      entries: 200_000, broken: { 'b-throw': 'throw', 'b-assert': 'assert', 'b-type': 'type', 'b-recursion': 'recursion' },
    });
    const { events, emit } = collect();
    const r = await evaluateNodes({ nix: { file: hive, evalWorkers: 2 } }, nodesNamed(order), { env: labNixEnv, emit });
    assert.deepEqual(Object.keys(r.results).sort(), good);
    const message = (node: string) => r.errors.find((e) => e.node === node)?.message ?? '(no error)';
    assert.match(message('b-throw'), /^b-throw: evaluate: error: b-throw is broken on purpose \(throw\)/);
    assert.match(message('b-assert'), /^b-assert: evaluate: error: assertion '\(name == "a node that is never there"\)' failed/);
    assert.match(message('b-type'), /^b-type: evaluate: error: cannot add a string to an integer/);
    assert.match(message('b-recursion'), /^b-recursion: evaluate: error: infinite recursion encountered/);
    assert.equal(r.errors.length, 4);
    const chunks = events.flatMap((e) => (e.type === 'eval-chunk' ? [e] : []));
    // Every good node answered in exactly one chunk (the marks keep what was done before a failure).
    for (const name of good) assert.equal(chunks.filter((c) => c.nodes.includes(name) && !c.retried.includes(name)).length, 1, name);
    assert.deepEqual(chunks.flatMap((c) => c.failed).sort(), ['b-assert', 'b-recursion', 'b-throw', 'b-type']);
  });

  test('a node that alone needs more than the budget is evaluated with nothing beside it, and named in a warning', { timeout: 300_000 }, async () => {
    const dir = await mkdtemp('/tmp/fleet-eval-alone-');
    const all = ['s01', 's02', 'huge', 's03', 's04', 's05'];
    const hive = await writeHeavyHive(join(dir, 'hive.nix'), all, { entries: 300_000, weight: { huge: 30 } });
    const budget = 500;
    const watch = watchMemory(hive);
    const r = await evaluateNodes({ nix: { file: hive, evalMemory: bytes(budget), evalWorkers: 2 } }, nodesNamed(all), { env: labNixEnv });
    watch.stop();
    assert.deepEqual(r.errors, []);
    assert.equal(Object.keys(r.results).length, 6);
    assert.deepEqual(r.summary.alone, ['huge']);
    assert.match(r.warnings[0]!, /^huge alone needs more than the evaluation budget \(500 MiB\)/);
  });

  test('Ctrl+C ends every evaluator at once: no nix-instantiate is left in the process table', { timeout: 300_000 }, async () => {
    const dir = await mkdtemp('/tmp/fleet-eval-abort-');
    const all = names('c', 40);
    const hive = await writeHeavyHive(join(dir, 'hive.nix'), all);
    const abort = new AbortController();
    let started = 0;
    const start: StartProcess = (argv, options) => {
      const proc = startProcess(argv, options);
      // Ctrl+C once two workers are evaluating.
      if (++started === 2) setTimeout(() => abort.abort(), 300);
      return proc;
    };
    const r = await evaluateNodes({ nix: { file: hive, evalMemory: bytes(4096), evalWorkers: 2 } }, nodesNamed(all), { env: labNixEnv, signal: abort.signal, start });
    assert.deepEqual(evaluators(hive), [], 'no evaluator of this hive is running');
    assert.ok(r.errors.length > 0 && r.errors.every((e) => e.message.endsWith(INTERRUPTED)));
    assert.equal(Object.keys(r.results).length + r.errors.length, 40);
  });

  test('streaming: a chunk\'s results come while other chunks still evaluate', { timeout: 300_000 }, async () => {
    const dir = await mkdtemp('/tmp/fleet-eval-stream-');
    const all = names('s', 12);
    const hive = await writeHeavyHive(join(dir, 'hive.nix'), all, { entries: 300_000 });
    const parts: { nodes: string[]; evaluatorsRunning: number }[] = [];
    const stream = evaluateStream({ nix: { file: hive, evalMemory: bytes(4096), evalWorkers: 2 } }, nodesNamed(all), { env: labNixEnv });
    for await (const part of stream) parts.push({ nodes: Object.keys(part.results), evaluatorsRunning: evaluators(hive).length });
    assert.deepEqual(parts.flatMap((p) => p.nodes).sort(), all);
    assert.ok(parts.length > 1);
    assert.ok(parts[0]!.evaluatorsRunning > 0, 'the first part came while an evaluator still ran');
  });

  test('fleet apply build --json --eval-memory --eval-workers: chunk events and the summary, the systems built', { timeout: 300_000 }, async () => {
    const dir = await mkdtemp('/tmp/fleet-eval-cli-');
    const all = names('w', 6);
    await writeHeavyHive(join(dir, 'hive.nix'), all, { entries: 300_000 });
    const nodes = all.map((n) => `  ${n}:\n    host: ${n}.invalid # never contacted: goal build asks no target\n`).join('');
    await writeFile(join(dir, 'fleet.yaml'), `version: 1\nnix:\n  file: ./hive.nix\n  evalMemory: 100M\nnodes:\n${nodes}`);
    const run = await runFleet(['-f', join(dir, 'fleet.yaml'), 'apply', 'build', '--json', '--eval-memory', '1G', '--eval-workers', '1']);
    assert.equal(run.code, 0, run.stderr);
    const chunks = run.events.flatMap((e) => (e.type === 'eval-chunk' ? [e] : []));
    assert.ok(chunks.length >= 2 && chunks.every((c) => c.worker === 1));
    const done = run.events.find((e) => e.type === 'eval-done');
    assert.ok(done?.type === 'eval-done');
    assert.deepEqual([done.nodes, done.workers, done.budget], [6, 1, 1024 * MiB], 'the flags win over nix.evalMemory');
    const summary = summaryOf(run);
    const plan = run.events.find((e) => e.type === 'plan');
    assert.ok(plan?.type === 'plan');
    for (const node of plan.plan.nodes) {
      assert.equal(summary.nodes[node.name]?.outcome, 'built');
      assert.ok(await storeHas(node.outPath), `${node.name}'s system is in the deployer's store`);
    }
    const text = await runFleet(['-f', join(dir, 'fleet.yaml'), 'apply', 'build', '--eval-memory', '1G']);
    assert.match(text.stdout, /evaluated 6 nodes in \d+ chunks? on \d workers?, peak [\d.]+ MiB of 1\.0 GiB, [\d.]+ s/);
  });
});
