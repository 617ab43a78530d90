// The keys stages of an apply, on this machine through a local Target (the real script): which goals and nodes
// they apply to, the event they emit, what one upload writes and holds for the other, and how they fail.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ResolvedKey } from '../../src/config/types.js';
import type { EventBody, Outcome } from '../../src/events.js';
import type { Goal } from '../../src/goal.js';
import { keysStage, type KeysStageContext } from '../../src/keys/stage.js';
import { Secret, type LoadedKey } from '../../src/keys/sources.js';
import { STAGES } from '../../src/deploy/stages.js';
import { createLocalHost } from '../../src/transport/local.js';
import { isCi } from '../../src/ui/choose.js';
import { resolvedNode } from '../resolved-node.js';
import { targetOver } from '../target.js';

const skip = process.getuid?.() === 0 ? false : isCi(process.env) ? (() => { throw new Error('keys stage tests need root (chown) in CI'); })() : 'keys stage tests need root (chown)';

function setup(goal: Goal = 'switch', lost?: string) {
  const dir = mkdtempSync(join(tmpdir(), 'fleet-stage-'));
  const node = resolvedNode('web-1', { stateDir: join(dir, 'state') });
  const target = targetOver(createLocalHost(), node);
  const events: EventBody[] = [];
  const phases: string[] = [];
  const key = (name: string, extra: Partial<ResolvedKey> = {}): ResolvedKey => ({
    name, source: { kind: 'env', name: 'X' }, destDir: join(dir, 'keys'), path: join(dir, 'keys', name), user: 'root', group: 'root', permissions: 0o600, uploadAt: 'pre-activation', ...extra,
  });
  const loaded = (k: ResolvedKey, text: string): LoadedKey => ({ key: k, content: new Secret(Buffer.from(text)) });
  const ctx = (keys: LoadedKey[] | undefined, activation?: unknown): KeysStageContext => ({
    run: {
      emit: (e) => events.push(e), ...(keys ? { keys: new Map([[node.name, keys]]) } : {}), pool: { targetOf: () => target },
      locks: { confirm: async () => lost },
    },
    policy: { goal },
    node, plan: { activate: true }, phase: (_p, detail) => phases.push(detail), ...(activation !== undefined ? { activation } : {}),
  });
  return { dir, key, loaded, ctx, events, phases };
}

test('the stages sit around activate in the apply pipeline: pre-activation keys before it, post-activation after it (and after its reboot)', () => {
  assert.deepEqual(STAGES.map((s) => s.name), ['build', 'copy', 'keys', 'activate', 'reboot', 'keys', 'health', 'record']);
});

test('applies: goals that change what runs or boots; every node of a fleet with keys before activation, nodes with post-activation keys after', () => {
  const pre = keysStage('pre-activation');
  const post = keysStage('post-activation');
  const s = setup();
  assert.equal(pre.applies(s.ctx(undefined)), false, 'a fleet without keys');
  assert.equal(pre.applies(s.ctx([])), true, 'a node whose keys all left the fleet file: its old ones go');
  assert.equal(post.applies(s.ctx([s.loaded(s.key('a'), 'A')])), false);
  assert.equal(post.applies(s.ctx([s.loaded(s.key('a', { uploadAt: 'post-activation' }), 'A')])), true);
  for (const goal of ['dry-activate', 'build', 'push'] as const) assert.equal(pre.applies(setup(goal).ctx([])), false, goal);
  for (const goal of ['switch', 'boot', 'test'] as const) assert.equal(pre.applies(setup(goal).ctx([])), true, goal);
});

test('pre-activation: uploads its changed keys in one write, holds the post-activation ones for later; nothing when all are current', { skip }, async () => {
  const s = setup();
  const a = s.key('a');
  const p = s.key('p', { uploadAt: 'post-activation' });
  const keys = [s.loaded(a, 'A'), s.loaded(p, 'P')];
  assert.deepEqual(await keysStage('pre-activation').run(s.ctx(keys)), { kind: 'next' });
  assert.deepEqual(s.events, [{ type: 'keys', node: 'web-1', changed: ['a'], unchanged: 0, removed: [], uploadAt: 'pre-activation' }]);
  assert.deepEqual([readFileSync(a.path, 'utf8'), existsSync(p.path)], ['A', false], 'the post-activation key waits for the activation');
  assert.deepEqual(await keysStage('post-activation').run(s.ctx(keys)), { kind: 'next' });
  assert.equal(readFileSync(p.path, 'utf8'), 'P');
  assert.deepEqual(s.events.at(-1), { type: 'keys', node: 'web-1', changed: ['p'], unchanged: 0, removed: [], uploadAt: 'post-activation' });
  assert.deepEqual(await keysStage('pre-activation').run(s.ctx(keys)), { kind: 'next' });
  assert.deepEqual(s.events.at(-1), { type: 'keys', node: 'web-1', changed: [], unchanged: 1, removed: [], uploadAt: 'pre-activation' });
  assert.ok(s.phases.includes('1 changed, 0 unchanged: uploading a'), s.phases.join('\n'));
  // A key that left the fleet file goes with the next pre-activation upload.
  assert.deepEqual(await keysStage('pre-activation').run(s.ctx([s.loaded(a, 'A')])), { kind: 'next' });
  assert.deepEqual(s.events.at(-1), { type: 'keys', node: 'web-1', changed: [], unchanged: 1, removed: [p.path], uploadAt: 'pre-activation' });
  assert.equal(existsSync(p.path), false);
});

test('pre-activation: a missing user fails the node before anything is written, naming the key and the user', { skip }, async () => {
  const s = setup();
  const keys = [s.loaded(s.key('good'), 'G'), s.loaded(s.key('tls.key', { user: 'fleet-no-such-user' }), 'T')];
  assert.deepEqual(await keysStage('pre-activation').run(s.ctx(keys)), {
    kind: 'done', outcome: 'failed', error: 'keys: no key was changed: key `tls.key`: user `fleet-no-such-user` does not exist on web-1',
  });
  assert.equal(existsSync(join(s.dir, 'keys', 'good')), false);
});

test('pre-activation: a lock another run took meanwhile leaves the node alone (locked)', async () => {
  const s = setup('switch', 'this run\'s lock was taken over');
  assert.deepEqual(await keysStage('pre-activation').run(s.ctx([s.loaded(s.key('a'), 'A')])), { kind: 'done', outcome: 'locked', error: 'this run\'s lock was taken over' });
  assert.deepEqual(s.events, []);
});

test('post-activation: a failure after this run activated the node rolls it back; without an activation it just fails', { skip }, async () => {
  const s = setup();
  const keys = [s.loaded(s.key('p', { uploadAt: 'post-activation', group: 'fleet-no-such-group' }), 'P')];
  const asked: string[] = [];
  const stage = keysStage<KeysStageContext>('post-activation', async (_ctx, why) => {
    asked.push(why);
    return { outcome: 'rolled-back' as Outcome, error: `rolled back: ${why}` };
  });
  const why = 'keys: no key was changed: key `p`: group `fleet-no-such-group` does not exist on web-1';
  assert.deepEqual(await stage.run(s.ctx(keys, { outcome: 'activated' })), { kind: 'done', outcome: 'rolled-back', error: `rolled back: ${why}` });
  assert.deepEqual(asked, [why]);
  assert.deepEqual(await stage.run(s.ctx(keys)), { kind: 'done', outcome: 'failed', error: why });
});

test('fleet plan\'s words per node: what would change, what would fail before activation, an account a post-activation key still lacks', { skip }, async () => {
  const { planKeys } = await import('../../src/keys/inspect.js');
  const s = setup();
  const node = resolvedNode('web-1', { stateDir: join(s.dir, 'state') });
  const keys = [
    s.loaded(s.key('a'), 'A'),
    s.loaded(s.key('tls', { user: 'fleet-no-such-user' }), 'T'),
    s.loaded(s.key('late', { uploadAt: 'post-activation', group: 'fleet-no-such-group' }), 'L'),
  ];
  const events: EventBody[] = [];
  const pool = { targetOf: () => targetOver(createLocalHost(), node) };
  const planned = await planKeys(pool, [node], new Map([['web-1', keys]]), (e) => events.push(e));
  assert.deepEqual(planned, {
    changing: ['web-1'],
    notes: {
      'web-1': '3 changed, 0 unchanged (a, tls, late); would fail: key `tls`: user `fleet-no-such-user` does not exist on web-1; ' +
        'key `late`: group `fleet-no-such-group` does not exist on web-1 yet (post-activation: the new system may create it)',
    },
  });
  assert.deepEqual(events, [{ type: 'keys', node: 'web-1', changed: ['a', 'tls', 'late'], unchanged: 0, removed: [] }]);
});

test('a node whose keys cannot be read: plan says why (sudo\'s own words) and goes on; apply fails the node with it', async () => {
  const { planKeys } = await import('../../src/keys/inspect.js');
  const node = resolvedNode('web-1', { user: 'deploy' });
  const refusing = {
    label: 'web-1', isLocal: false, connect: async () => {}, close: async () => {}, closeSync: () => {},
    run: async (argv: string[]) => ({ argv, exitCode: 1, stdout: '', stderr: 'sudo: a terminal is required to read the password\nsudo: a password is required', failed: true, timedOut: false, canceled: false, message: 'exit 1' }),
    runFresh: async () => assert.fail('no fresh connection'),
  };
  const key = { name: 'a', source: { kind: 'env', name: 'X' }, destDir: '/run/keys', path: '/run/keys/a', user: 'root', group: 'root', permissions: 0o600, uploadAt: 'pre-activation' } as const;
  const keys = new Map([['web-1', [{ key, content: new Secret(Buffer.from('A')) }]]]);
  const planned = await planKeys({ targetOf: () => targetOver(refusing, node) }, [node], keys, () => assert.fail('no keys event'));
  assert.deepEqual(planned.notes, { 'web-1': 'cannot be compared: cannot read the keys on web-1: exit 1: sudo: a terminal is required to read the password; sudo: a password is required' });
  const ctx: KeysStageContext = {
    run: { emit: () => assert.fail('no keys event'), keys, pool: { targetOf: () => targetOver(refusing, node) }, locks: { confirm: async () => undefined } },
    policy: { goal: 'switch' },
    node, plan: { activate: true }, phase: () => {},
  };
  assert.deepEqual(await keysStage('pre-activation').run(ctx), {
    kind: 'done', outcome: 'failed', error: 'keys: cannot read the keys on web-1: exit 1: sudo: a terminal is required to read the password; sudo: a password is required',
  });
  const { writeKeys } = await import('../../src/keys/remote.js');
  await assert.rejects(writeKeys(targetOver(refusing, node), keys.get('web-1')!, []), {
    message: 'uploading the keys to web-1 failed: exit 1: sudo: a terminal is required to read the password; sudo: a password is required',
  });
});
