// Chunk planning (pure): the cost model from measured peaks, how many workers, how many nodes per chunk.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { allowedWorkers, FIRST_GUESS, fitCost, fitsNow, nextChunkSize, PLAN_SHARE, predictPeak, type PlanState } from '../../src/nix/eval-plan.js';

const MiB = 2 ** 20;
const GiB = 2 ** 30;
const state = (s: Partial<PlanState>): PlanState => ({ budget: 1536 * MiB, workers: 2, concurrencyCap: 2, sizeCap: Infinity, running: [], remaining: 64, ...s });

test('fitCost: nothing measured, no model; one chunk size: all of the peak per node (base 0)', () => {
  assert.equal(fitCost([]), undefined);
  assert.deepEqual(fitCost([{ nodes: 1, peak: 170 * MiB }, { nodes: 1, peak: 180 * MiB }]), { base: 0, perNode: 180 * MiB });
  assert.deepEqual(fitCost([{ nodes: 4, peak: 400 * MiB }]), { base: 0, perNode: 100 * MiB });
});

test('fitCost: two sizes give a slope, and the line is moved up until no sample lies above it', () => {
  const model = fitCost([{ nodes: 1, peak: 170 * MiB }, { nodes: 4, peak: 470 * MiB }, { nodes: 4, peak: 490 * MiB }])!;
  assert.ok(model.perNode > 90 * MiB && model.perNode < 110 * MiB, String(model.perNode / MiB));
  for (const s of [{ nodes: 1, peak: 170 * MiB }, { nodes: 4, peak: 490 * MiB }]) assert.ok(predictPeak(model, s.nodes) >= s.peak - 1);
  // A falling trend (noise) is not believed: per node as much as the worst sample.
  assert.deepEqual(fitCost([{ nodes: 1, peak: 300 * MiB }, { nodes: 3, peak: 200 * MiB }]), { base: 0, perNode: 300 * MiB });
});

test('unmeasured: one-node probes, as many as the budget holds at the first guess per node', () => {
  assert.equal(nextChunkSize(state({})), 1);
  assert.equal(allowedWorkers(state({ workers: 8, concurrencyCap: 8 })), Math.floor((1536 * MiB * PLAN_SHARE) / FIRST_GUESS));
  assert.equal(nextChunkSize(state({ running: [{ nodes: 1, rss: 0 }, { nodes: 1, rss: 0 }] })), 0, 'two probes at most: both workers busy');
  assert.equal(nextChunkSize(state({ budget: 700 * MiB, running: [{ nodes: 1, rss: 0 }] })), 0, 'a second 512 MiB guess does not fit 700 MiB');
  assert.equal(nextChunkSize(state({ budget: 100 * MiB })), 1, 'nothing running: a node starts even above the budget');
});

test('unmeasured under a roomy budget: a small fleet is one chunk per worker, not one process per node', () => {
  assert.equal(nextChunkSize(state({ budget: 20 * GiB, remaining: 16 })), 8, '16 nodes on 2 workers');
  assert.equal(nextChunkSize(state({ budget: 20 * GiB, remaining: 4 })), 2);
  // 90% of 4 GiB, halved for 2 workers, holds 3 nodes at 512 MiB each.
  assert.equal(nextChunkSize(state({ budget: 4 * GiB, remaining: 64 })), 3);
});

test('measured: each worker gets its share of the budget, chunks as big as the share holds', () => {
  const model = { base: 70 * MiB, perNode: 100 * MiB };
  const share = (1536 * MiB * PLAN_SHARE) / 2;
  assert.equal(nextChunkSize(state({ model })), Math.floor((share - model.base) / model.perNode));
  // The last nodes are split evenly over the workers, so the last chunks end together.
  assert.equal(nextChunkSize(state({ model, remaining: 5 })), 3);
  assert.equal(nextChunkSize(state({ model, remaining: 5, sizeCap: 2 })), 2);
  assert.equal(nextChunkSize(state({ model, remaining: 0 })), 0);
});

test('measured: the even split fixed at the first measurement, so the tail is not halved chunk after chunk', () => {
  const model = { base: 0, perNode: MiB };
  // 64 nodes, first chunks of 20 and 20: 24 left when the first one is measured, 12 per worker.
  const running = [{ nodes: 20, rss: 20 * MiB }];
  assert.equal(nextChunkSize(state({ model, remaining: 24, split: 12, running })), 12);
  // The other worker, once its first chunk is done: 12 again, not half of the 12 left (a tail of 6, 3, 2, 1).
  assert.equal(nextChunkSize(state({ model, remaining: 12, split: 12, running: [{ nodes: 12, rss: 12 * MiB }] })), 12);
});

test('measured: fewer workers when the budget cannot hold one node each; a chunk waits for room', () => {
  const big = { base: 0, perNode: 600 * MiB };
  assert.equal(allowedWorkers(state({ model: big, workers: 8, concurrencyCap: 8 })), 2);
  assert.equal(allowedWorkers(state({ model: { base: 0, perNode: 2 * GiB }, workers: 8, concurrencyCap: 8 })), 1, 'never fewer than one');
  assert.equal(allowedWorkers(state({ workers: 8, concurrencyCap: 1, model: { base: 0, perNode: MiB } })), 1, 'the cap set after going over the budget holds');
  const model = { base: 0, perNode: 100 * MiB };
  // A running chunk that already holds more than predicted leaves less room.
  assert.equal(nextChunkSize(state({ model, running: [{ nodes: 2, rss: 1300 * MiB }] })), 0);
  assert.ok(nextChunkSize(state({ model, running: [{ nodes: 2, rss: 150 * MiB }] })) >= 1);
});

test('fitsNow: a retry (fixed size) starts when a worker is free and its predicted peak fits what is left', () => {
  const model = { base: 0, perNode: 400 * MiB };
  assert.equal(fitsNow(state({ model }), 1), true);
  assert.equal(fitsNow(state({ model, running: [{ nodes: 3, rss: 0 }] }), 1), false, '1200 + 400 MiB > 90% of 1.5 GiB');
  assert.equal(fitsNow(state({ model: { base: 0, perNode: 4 * GiB }, running: [] }), 1), true, 'alone, whatever it costs');
});

test('unbounded (no /proc): the nodes split evenly over the workers', () => {
  assert.equal(nextChunkSize(state({ budget: Infinity, model: { base: 0, perNode: 0 }, remaining: 9 })), 5);
});
