// Batched evaluation with the real Nix on this machine: one process, node-named errors, flakes.
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import type { ResolvedNode } from '../../src/config/types.js';
import { evaluateNodes } from '../../src/nix/eval.js';
import { runLocal, type RunCommand } from '../../src/transport/run.js';
import { requireLabCapable } from './support.js';
import { labNixEnv } from '../../lab/index.js';

const node = (name: string, attr?: string) => ({ name, ...(attr ? { attr } : {}) }) as ResolvedNode;
const SYSTEM = new URL('../../fixtures/nix/system.nix', import.meta.url).pathname;

/** Counts the Nix processes fleet starts, running them for real. */
function countingRun(): { run: RunCommand; calls: string[][] } {
  const calls: string[][] = [];
  return { calls, run: (argv, options) => (calls.push(argv), runLocal(argv, { ...options, env: labNixEnv })) };
}

describe('evaluation with real Nix', { skip: requireLabCapable() }, () => {
  const dir = mkdtempSync('/tmp/fleet-eval-');
  const hive = join(dir, 'hive.nix');
  writeFileSync(hive, `let s = import ${SYSTEM}; in { a = s { name = "ev-a"; }; b = s { name = "ev-a"; }; c = s { name = "ev-c"; }; nested.d = s { name = "ev-d"; };
    broken = throw "node broken on purpose"; }`);

  test('all nodes in one nix-instantiate process; identical systems share a derivation', async () => {
    const { run, calls } = countingRun();
    const r = await evaluateNodes({ nix: { file: hive } }, [node('a'), node('b'), node('c'), node('d', 'nested.d')], { run });
    assert.equal(calls.length, 1);
    assert.deepEqual(r.errors, []);
    assert.equal(r.results.a!.drvPath, r.results.b!.drvPath);
    assert.notEqual(r.results.a!.drvPath, r.results.c!.drvPath);
    assert.match(r.results.d!.outPath, /^\/nix\/store\/[a-z0-9]{32}-fleet-lab-system-ev-d$/);
    assert.match(r.results.a!.drvPath, /\.drv$/);
  });

  test('an evaluation error names the node and keeps Nix\'s message; the others still evaluate', async () => {
    const { run } = countingRun();
    const r = await evaluateNodes({ nix: { file: hive } }, [node('a'), node('broken'), node('c')], { run });
    assert.deepEqual(Object.keys(r.results).sort(), ['a', 'c']);
    assert.equal(r.errors.length, 1);
    assert.equal(r.errors[0]!.node, 'broken');
    assert.equal(r.errors[0]!.phase, 'evaluate');
    assert.match(r.errors[0]!.message, /^broken: evaluate: error: node broken on purpose/);
  });

  test('a missing attribute is reported for its node', async () => {
    const { run } = countingRun();
    const r = await evaluateNodes({ nix: { file: hive } }, [node('zzz')], { run });
    assert.match(r.errors[0]!.message, /zzz: evaluate: error: attribute 'zzz' missing/);
  });

  test('a Nix that cannot start is one error per node, without a per-node retry', async () => {
    const calls: string[][] = [];
    const run: RunCommand = (argv, options) => (calls.push(argv), runLocal(argv, { ...options, env: { PATH: '/nonexistent' } }));
    const r = await evaluateNodes({ nix: { file: hive } }, [node('a'), node('c')], { run });
    assert.equal(calls.length, 1);
    assert.deepEqual(r.errors.map((e) => e.node), ['a', 'c']);
    assert.match(r.errors[0]!.message, /^a: evaluate: cannot run nix-instantiate/);
  });

  test('--show-trace is passed to Nix', async () => {
    const { run, calls } = countingRun();
    await evaluateNodes({ nix: { file: hive } }, [node('broken')], { run, showTrace: true });
    assert.ok(calls[0]!.includes('--show-trace'));
  });

  test('a flake: nixosConfigurations.<node>.config.system.build.toplevel', async () => {
    const flake = mkdtempSync('/tmp/fleet-flake-');
    writeFileSync(join(flake, 'flake.nix'), `{ outputs = { self }: let s = import ${SYSTEM}; in {
      nixosConfigurations.a.config.system.build.toplevel = s { name = "ev-a"; }; }; }`);
    const { run } = countingRun();
    const fromFlake = await evaluateNodes({ nix: { flake } }, [node('a')], { run });
    const fromFile = await evaluateNodes({ nix: { file: hive } }, [node('a')], { run });
    assert.deepEqual(fromFlake.errors, []);
    assert.equal(fromFlake.results.a!.drvPath, fromFile.results.a!.drvPath);
  });
});
