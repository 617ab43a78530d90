// The evaluator's logic against a fake Nix (processes, their marks and their memory made up; pure logic only):
// the chunks, the budget, failures isolated per node, Ctrl+C, streaming. test/lab/eval*.test.ts run the real Nix.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ResolvedNode } from '../../src/config/types.js';
import type { EventBody } from '../../src/events.js';
import { evaluateNodes, evaluateStream } from '../../src/nix/eval.js';
import type { ProcessExit, StartProcess } from '../../src/nix/eval-process.js';
import { INTERRUPTED } from '../../src/nix/eval-run.js';

const MiB = 2 ** 20;
const nodesNamed = (names: string[]) => names.map((name) => ({ name }) as ResolvedNode);
const names = (n: number) => Array.from({ length: n }, (_v, i) => `n${i + 1}`);

interface FakeNode {
  cost?: number; // bytes it adds to its process
  fail?: 'caught' | 'uncaught'; // under tryEval, or an error tryEval cannot catch
}

interface Call {
  names: string[];
  catchErrors: boolean;
  pid: number;
  killed: boolean;
  running: boolean;
}

/** A made-up nix-instantiate: evaluates its spec node by node, writes eval.nix's marks (unless `marks: false`),
 *  holds `base` + the cost of every node started, fails as told. */
function fakeNix(nodes: Record<string, FakeNode>, options: { marks?: boolean; perNodeMs?: number; base?: number; sourceError?: string } = {}) {
  const calls: Call[] = [];
  const memory = new Map<number, number>();
  let nextPid = 1000;
  const start: StartProcess = (argv, { onStderrLine }) => {
    const spec = JSON.parse(argv[argv.indexOf('spec') + 1]!) as { name: string }[];
    const call: Call = { names: spec.map((s) => s.name), catchErrors: !argv.includes('catch'), pid: nextPid++, killed: false, running: true };
    calls.push(call);
    memory.set(call.pid, options.base ?? 20 * MiB);
    let stderr = '';
    const line = (text: string) => {
      stderr += `${text}\n`;
      onStderrLine(text);
    };
    const mark = (text: string) => options.marks !== false && line(`trace: fleet-eval:${text}`);
    let settle: (exit: ProcessExit) => void = () => {};
    const exit = new Promise<ProcessExit>((resolve) => (settle = resolve));
    const finish = (exitCode: number | undefined, stdout = '') => {
      if (!call.running) return;
      call.running = false;
      memory.delete(call.pid);
      settle({ exitCode, stdout, stderr, message: exitCode === 0 ? '' : `Command failed with exit code ${exitCode ?? 'killed'}` });
    };
    void (async () => {
      mark('begin');
      if (options.sourceError) return (line(`error: ${options.sourceError}`), finish(1));
      mark('root');
      const out: Record<string, object> = {};
      for (const [i, name] of call.names.entries()) {
        mark(`start:${i}`);
        const node = nodes[name];
        memory.set(call.pid, memory.get(call.pid)! + (node?.cost ?? 10 * MiB));
        await new Promise((resolve) => setTimeout(resolve, options.perNodeMs ?? 2));
        if (!call.running) return;
        const failing = node === undefined ? 'caught' : node.fail;
        if (failing === 'uncaught' || (failing === 'caught' && !call.catchErrors)) {
          return (line(`error: ${name} is broken`), line("(use '--show-trace' to show detailed location information)"), finish(1));
        }
        const result = failing === 'caught' ? { ok: false } : { ok: true, drv: `/nix/store/${name}.drv`, out: `/nix/store/${name}`, system: 'x86_64-linux' };
        out[name] = result;
        mark(`done:${JSON.stringify({ i, ...result })}`);
      }
      finish(0, JSON.stringify(out));
    })();
    return { pid: call.pid, exit, kill: () => ((call.killed = true), finish(undefined)) };
  };
  const readMemory = (pid: number) => (memory.has(pid) ? { rss: memory.get(pid)!, hwm: memory.get(pid)! } : undefined);
  return { calls, start, readMemory };
}

function collect(): { events: EventBody[]; emit: (e: EventBody) => void } {
  const events: EventBody[] = [];
  return { events, emit: (e) => events.push(e) };
}

const fleet = (memory = 4096 * MiB, workers = 2) => ({ nix: { file: '/h.nix', evalMemory: { kind: 'bytes' as const, bytes: memory }, evalWorkers: workers } });

test('an error tryEval cannot catch: the marks name its node; the nodes done before it are kept, those after it go on elsewhere', async () => {
  const all = names(8);
  const nix = fakeNix({ ...Object.fromEntries(all.map((n) => [n, {}])), n5: { fail: 'uncaught' } });
  const { events, emit } = collect();
  const r = await evaluateNodes(fleet(4096 * MiB, 1), nodesNamed(all), { start: nix.start, readMemory: nix.readMemory, emit });
  assert.deepEqual(Object.keys(r.results).sort(), all.filter((n) => n !== 'n5').sort());
  assert.equal(r.errors.length, 1);
  assert.match(r.errors[0]!.message, /^n5: evaluate: error: n5 is broken/);
  const failedChunk = events.find((e) => e.type === 'eval-chunk' && e.ended === 'failed');
  assert.ok(failedChunk && failedChunk.type === 'eval-chunk');
  assert.deepEqual(failedChunk.failed, ['n5']);
  assert.deepEqual(failedChunk.retried, failedChunk.nodes.slice(failedChunk.nodes.indexOf('n5') + 1));
  // Only the nodes after n5 run again: those done before it are kept, n5 is not run again for its message.
  const runs = (name: string) => nix.calls.filter((c) => c.names.includes(name)).length;
  for (const name of all) assert.equal(runs(name), failedChunk.retried.includes(name) ? 2 : 1, name);
});

test('without marks (a Nix whose trace lines fleet cannot read), a failed chunk is bisected down to the failing node', async () => {
  const all = names(8);
  const nix = fakeNix({ ...Object.fromEntries(all.map((n) => [n, {}])), n6: { fail: 'uncaught' } }, { marks: false });
  const r = await evaluateNodes(fleet(4096 * MiB, 1), nodesNamed(all), { start: nix.start, readMemory: nix.readMemory });
  assert.deepEqual(Object.keys(r.results).sort(), all.filter((n) => n !== 'n6').sort());
  assert.deepEqual(r.errors.map((e) => e.node), ['n6']);
  assert.match(r.errors[0]!.message, /^n6: evaluate: error: n6 is broken/);
  assert.ok(nix.calls.some((c) => c.names.length === 1 && c.names[0] === 'n6'), 'n6 ends up alone');
  assert.ok(nix.calls.length <= 2 + 2 * Math.ceil(Math.log2(8)), `${nix.calls.length} processes`);
});

test('a node caught by tryEval (throw, assert) is evaluated again alone, without tryEval, for Nix\'s message', async () => {
  const all = names(6);
  const nix = fakeNix({ ...Object.fromEntries(all.map((n) => [n, {}])), n3: { fail: 'caught' } });
  const r = await evaluateNodes(fleet(4096 * MiB, 1), nodesNamed(all), { start: nix.start, readMemory: nix.readMemory });
  assert.equal(Object.keys(r.results).length, 5);
  assert.match(r.errors[0]!.message, /^n3: evaluate: error: n3 is broken/);
  const again = nix.calls.filter((c) => !c.catchErrors);
  assert.deepEqual(again.map((c) => c.names), [['n3']], 'one process more, for n3 alone');
});

test('the file itself fails (before any node): every node fails with its message, nothing is tried again', async () => {
  const all = names(5);
  const nix = fakeNix({}, { sourceError: 'syntax error, unexpected end of file' });
  const r = await evaluateNodes(fleet(4096 * MiB, 1), nodesNamed(all), { start: nix.start, readMemory: nix.readMemory });
  assert.equal(nix.calls.length, 1);
  assert.deepEqual(r.errors.map((e) => e.node), all);
  for (const e of r.errors) assert.match(e.message, /evaluate: error: syntax error, unexpected end of file/);
});

test('over the budget: the youngest process is ended, its unfinished nodes run again, fewer at once; every node evaluated once', async () => {
  // The probes are cheap, the rest cost 300 MiB each: the first plan is wrong, the sampled sum corrects it.
  const all = names(12);
  const costs = Object.fromEntries(all.map((n, i) => [n, { cost: i < 2 ? 30 * MiB : 300 * MiB }]));
  const nix = fakeNix(costs, { perNodeMs: 15 });
  const { events, emit } = collect();
  const r = await evaluateNodes(fleet(1000 * MiB, 4), nodesNamed(all), { start: nix.start, readMemory: nix.readMemory, sampleMs: 2, emit });
  assert.deepEqual(Object.keys(r.results).sort(), [...all].sort());
  assert.deepEqual(r.errors, []);
  const stopped = events.filter((e) => e.type === 'eval-chunk' && e.ended === 'over-budget');
  assert.ok(stopped.length > 0, 'the first plan went over the budget');
  for (const e of stopped) if (e.type === 'eval-chunk') assert.ok(e.retried.length > 0);
  assert.ok(nix.calls.filter((c) => c.killed).length === stopped.length);
  const done = events.find((e) => e.type === 'eval-done');
  assert.ok(done && done.type === 'eval-done' && done.nodes === 12 && done.chunks === nix.calls.length);
});

test('a node that alone needs more than the budget runs with nothing beside it, and is named in a warning', async () => {
  const all = names(6);
  const nix = fakeNix({ ...Object.fromEntries(all.map((n) => [n, { cost: 50 * MiB }])), n4: { cost: 1500 * MiB } }, { perNodeMs: 10 });
  const { events, emit } = collect();
  const r = await evaluateNodes(fleet(1000 * MiB, 2), nodesNamed(all), { start: nix.start, readMemory: nix.readMemory, sampleMs: 2, emit });
  assert.equal(Object.keys(r.results).length, 6);
  assert.deepEqual(r.summary.alone, ['n4']);
  assert.match(r.warnings[0]!, /^n4 alone needs more than the evaluation budget \(1000 MiB\)/);
  const last = nix.calls.filter((c) => c.names.includes('n4')).at(-1)!;
  assert.deepEqual(last.names, ['n4']);
  const done = events.find((e) => e.type === 'eval-done');
  assert.ok(done?.type === 'eval-done' && done.alone[0] === 'n4');
});

test('Ctrl+C ends every process at once; the nodes not evaluated fail as interrupted', async () => {
  const all = names(10);
  const nix = fakeNix(Object.fromEntries(all.map((n) => [n, {}])), { perNodeMs: 50 });
  const abort = new AbortController();
  const run = evaluateNodes(fleet(4096 * MiB, 2), nodesNamed(all), { start: nix.start, readMemory: nix.readMemory, signal: abort.signal });
  while (nix.calls.length < 2) await new Promise((resolve) => setTimeout(resolve, 1));
  abort.abort();
  const r = await run;
  assert.ok(nix.calls.every((c) => !c.running), 'no process left');
  assert.equal(Object.keys(r.results).length + r.errors.length, 10);
  assert.ok(r.errors.length > 0 && r.errors.every((e) => e.message.endsWith(INTERRUPTED)));
});

test('streaming: each chunk\'s part as it ends, before the others; every node in exactly one part', async () => {
  const all = names(9);
  const nix = fakeNix(Object.fromEntries(all.map((n) => [n, {}])), { perNodeMs: 5 });
  const seen: string[] = [];
  let firstWhileRunning: boolean | undefined;
  const stream = evaluateStream(fleet(4096 * MiB, 2), nodesNamed(all), { start: nix.start, readMemory: nix.readMemory });
  for (;;) {
    const next = await stream.next();
    if (next.done) {
      assert.equal(Object.keys(next.value.results).length, 9);
      break;
    }
    firstWhileRunning ??= nix.calls.some((c) => c.running) || nix.calls.length < 3;
    seen.push(...Object.keys(next.value.results), ...next.value.errors.map((e) => e.node));
  }
  assert.equal(firstWhileRunning, true);
  assert.deepEqual([...seen].sort(), [...all].sort());
});

test('a chunk that ended before its memory could be read (a busy deployer) still sizes the next ones, by what its wall time allows', async () => {
  const all = names(20);
  const nix = fakeNix(Object.fromEntries(all.map((n) => [n, {}])), { perNodeMs: 1 });
  const r = await evaluateNodes(fleet(4096 * MiB, 1), nodesNamed(all), { start: nix.start, readMemory: () => undefined });
  assert.equal(Object.keys(r.results).length, 20);
  // 90% of 4 GiB at 512 MiB a node: 7 unmeasured, then the rest by what that chunk's wall time allows.
  assert.deepEqual(nix.calls.map((c) => c.names.length), [7, 13], 'a first chunk, then the rest: not one process per node');
});
