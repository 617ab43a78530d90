// The per-target lock through the rest of fleet: the plan (a live lock: nothing for that node), `fleet plan`'s
// text, the `locked` outcome (exit 1, never a fail-fast stop), its rendering, and the `lockTimeout` key.
process.env.TZ = 'UTC';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseFleet } from '../../src/config/index.js';
import { decideExitCode } from '../../src/deploy/outcome.js';
import { createLedger } from '../../src/deploy/ledger.js';
import { ConfigError, formatDiagnostic } from '../../src/errors.js';
import type { EventBody } from '../../src/events.js';
import { formatPlan } from '../../src/plan/format.js';
import { lockedReason } from '../../src/lock/text.js';
import { createPlan } from '../../src/plan/plan.js';
import type { TargetState } from '../../src/agent/state.js';
import type { LockHolder } from '../../src/target/state.js';
import { createListrRenderer, createPlainRenderer } from '../../src/ui/index.js';
import { describeNodePlan } from '../../src/ui/plan-text.js';
import { resolvedNode } from '../resolved-node.js';
import { capture, drive, record, storePath } from './ui-fixture.js';

const holder: LockHolder = { run: '20261121T091502Z-3fa9c1d2', by: 'alice@laptop', pid: 4242, since: 1795252502, expires: 1795252802 };
const node = (name: string) => resolvedNode(name, { host: name });
const old = storePath('0ld0000', 'nixos-system-old');
const state: TargetState = { hasOut: false, systemd: true, profileLink: 'system-1-link', generation: 1, profileTarget: old, currentSystem: old };
const out = (n: string) => storePath('9e70000', `nixos-system-${n}`);

function planFor(locks: Record<string, TargetState['lock']>) {
  const nodes = Object.keys(locks).map(node);
  return createPlan({
    goal: 'switch', force: false, nodes, builders: {},
    evals: Object.fromEntries(nodes.map((n) => [n.name, { drvPath: `${out(n.name)}.drv`, outPath: out(n.name) }])),
    targets: Object.fromEntries(nodes.map((n) => [n.name, { ...state, ...(locks[n.name] ? { lock: locks[n.name] } : {}) }])),
  });
}

void test('plan: a node whose live lock another run holds gets no build, copy or activation; a stale lock changes nothing', () => {
  const plan = planFor({ free: undefined, held: { state: 'held', holder }, stale: { state: 'held', holder, expired: true }, ours: { state: 'taken', holder, expired: true } });
  const [free, held, stale, ours] = plan.nodes;
  assert.deepEqual([held!.activate, held!.copy, held!.buildJob, held!.reason], [false, { kind: 'none', reason: 'not-needed' }, undefined, lockedReason({ state: 'held', holder })]);
  assert.deepEqual(held!.lock, { state: 'held', holder });
  for (const n of [free!, stale!, ours!]) assert.deepEqual([n.activate, n.copy.kind, n.buildJob, n.reason], [true, 'from-local', 'local', 'switch needed'], n.name);
  assert.equal(free!.lock, undefined);
  assert.deepEqual(stale!.lock, { state: 'held', holder, expired: true });
  assert.deepEqual(plan.builds[0]!.nodes, ['free', 'stale', 'ours'], 'nothing is built for the locked node');
  assert.equal(held!.from?.generation, 1, 'what it runs is still shown');
  assert.ok(!('lock' in held!.from!), 'the lock is not part of what it runs');
});

void test('fleet plan text: a live lock is the node\'s reason, a stale or taken-over one its own line, and the summary counts locked nodes', () => {
  const text = formatPlan(planFor({ held: { state: 'held', holder }, stale: { state: 'held', holder, expired: true }, free: undefined })).split('\n');
  assert.ok(text.includes(`  held   no activation  -  ${lockedReason({ state: 'held', holder })}`), text.join('\n'));
  assert.ok(text.includes('         lock: stale lock of run 20261121T091502Z-3fa9c1d2 (alice@laptop, pid 4242) since 2026-11-21T09:15:02Z, expired 2026-11-21T09:20:02Z: apply takes it over'), text.join('\n'));
  assert.equal(text.filter((l) => l.includes('lock:')).length, 1);
  assert.equal(text.at(-1), 'summary: 2 build(s), 2 copy(ies), 2 activation(s), 1 node(s) without activation (1 locked by another run)');
  assert.doesNotMatch(formatPlan(planFor({ free: undefined })), /locked/);
});

void test('run renderers\' plan line: a locked node shows what it runs and why it stays there, no arrow', () => {
  const [held, stale] = planFor({ held: { state: 'held', holder }, stale: { state: 'held', holder, expired: true } }).nodes;
  assert.equal(describeNodePlan(held!), `gen 1 0ld0000-nixos-system-old  ${lockedReason({ state: 'held', holder })}`);
  assert.equal(describeNodePlan(stale!), 'gen 1 0ld0000-nixos-system-old → 9e70000-nixos-system-stale  switch needed');
});

void test('exit code: a locked node makes the run exit 1, like a failure', () => {
  assert.equal(decideExitCode(['activated', 'locked'], false), 1);
  assert.equal(decideExitCode(['locked'], true), 130);
  assert.equal(decideExitCode(['locked', 'rollback-failed'], false), 3);
});

void test('fail-fast: a locked node does not stop the run, a failed one does', () => {
  const events: EventBody[] = [];
  const stop = new AbortController();
  const ledger = createLedger({ emit: (e) => events.push(e), stop, failFast: true });
  ledger.finish('a', 'locked', 'locked by run x');
  assert.equal(stop.signal.aborted, false);
  assert.deepEqual(events, [{ type: 'node-done', node: 'a', outcome: 'locked', error: 'locked by run x' }]);
  ledger.finish('b', 'failed', 'boom');
  assert.equal(stop.signal.aborted, true);
});

const lockedRun = record([
  [0, { type: 'run-start', command: 'apply', goal: 'switch', nodes: ['h2', 'h3'], fleetVersion: '0' }],
  [1, { type: 'node-phase', node: 'h3', phase: 'query', detail: 'took over the expired lock of run r0 (bob@ci, pid 7) since 2026-11-21T09:00:00Z, expired 2026-11-21T09:05:00Z' }],
  [2, { type: 'node-done', node: 'h2', outcome: 'locked', error: lockedReason({ state: 'held', holder }) }],
  [3, { type: 'node-done', node: 'h3', outcome: 'activated' }],
  [4, { type: 'summary', command: 'apply', goal: 'switch', exitCode: 1, durationMs: 4000, interrupted: false, nodes: { h2: { outcome: 'locked', error: lockedReason({ state: 'held', holder }) }, h3: { outcome: 'activated' } } }],
]);

void test('plain output: the take-over line, the locked node with its holder, and the report', async () => {
  const { out, text } = capture();
  await drive(createPlainRenderer(out), lockedRun);
  const lines = text().split('\n');
  assert.ok(lines.includes('12:00:01 h3     querying      took over the expired lock of run r0 (bob@ci, pid 7) since 2026-11-21T09:00:00Z, expired 2026-11-21T09:05:00Z'), lines.join('\n'));
  assert.ok(lines.includes(`12:00:02 h2     locked        ${lockedReason({ state: 'held', holder })}`), lines.join('\n'));
  assert.ok(lines.includes(`── h2: locked: ${lockedReason({ state: 'held', holder })}`), 'a section of its own in the report');
  assert.ok(lines.includes('2 nodes: 1 activated, 1 locked'), lines.join('\n'));
});

void test('listr: a locked node\'s task fails with the holder in its message', async () => {
  const { out, text } = capture();
  await drive(createListrRenderer(out, { renderer: 'test', err: out, rendererOptions: { task: ['title'] } }), lockedRun, true);
  const logged = text().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { event: string; data: unknown; task?: { title?: string } });
  assert.ok(logged.some((l) => l.event === 'STATE' && l.data === 'FAILED' && l.task?.title === 'h2: locked'), text());
  assert.match(text(), /locked by run 20261121T091502Z-3fa9c1d2 \(alice@laptop, pid 4242\)/);
});

const head = 'version: 1\nnix:\n  file: ./hive.nix\n';

void test('lockTimeout: 5 minutes by default, set in defaults or per node; a bad value is located', () => {
  const fleet = parseFleet(`${head}defaults:\n  lockTimeout: 30s\nnodes:\n  a:\n    host: h\n  b:\n    host: h2\n    lockTimeout: 1h\n`, '/f.yaml');
  assert.deepEqual([fleet.nodes.a!.lockTimeoutMs, fleet.nodes.b!.lockTimeoutMs], [30_000, 3_600_000]);
  assert.equal(parseFleet(`${head}nodes:\n  a:\n    host: h\n`, '/f.yaml').nodes.a!.lockTimeoutMs, 300_000);
  assert.throws(
    () => parseFleet(`${head}nodes:\n  a:\n    host: h\n    lockTimeout: 0s\n`, '/f.yaml'),
    (e: unknown) =>
      e instanceof ConfigError &&
      e.diagnostics.map(formatDiagnostic).join('\n') === '/f.yaml:7:18: `lockTimeout` of node `a` must be a duration from `1s` to `24h`, such as `1500ms`, `10s`, `5m` or `1h`, got `0s`',
  );
});
