// The ledger of a deploy run (src/deploy/ledger.ts): a node's first final word counts, a revision replaces it,
// each is one node-done event; a failure stops the run only when the policy is fail-fast, `locked` never.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createLedger } from '../../src/deploy/ledger.js';
import type { EventBody } from '../../src/events.js';

void test('the first word counts; a revision replaces it; each is one node-done event with its log', () => {
  const events: EventBody[] = [];
  const ledger = createLedger({ emit: (e) => events.push(e), stop: new AbortController(), failFast: false });
  ledger.finish('a', 'activated');
  ledger.finish('a', 'failed', 'too late');
  assert.deepEqual(ledger.results.get('a'), { outcome: 'activated' });
  ledger.revise('a', 'rolled-back', 'wave 2 failed', ['line']);
  assert.deepEqual(ledger.results.get('a'), { outcome: 'rolled-back', error: 'wave 2 failed' });
  assert.deepEqual(events, [
    { type: 'node-done', node: 'a', outcome: 'activated' },
    { type: 'node-done', node: 'a', outcome: 'rolled-back', error: 'wave 2 failed', log: ['line'] },
  ]);
});

void test('fail-fast: a failure stops the run; without it (--keep-going, a staged rollout) nothing does', () => {
  for (const failFast of [true, false]) {
    const stop = new AbortController();
    const ledger = createLedger({ emit: () => {}, stop, failFast });
    ledger.finish('a', 'locked', 'another run');
    ledger.finish('b', 'skipped', 'not planned');
    assert.equal(stop.signal.aborted, false, 'locked and skipped never stop it');
    ledger.finish('c', 'rolled-back', 'health check failed');
    assert.equal(stop.signal.aborted, failFast);
  }
});
