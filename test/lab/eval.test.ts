// Evaluation with the real Nix on this machine: nodes in chunks (few processes, not one per node), node-named
// errors with Nix's message, flakes.
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import type { ResolvedNode } from '../../src/config/types.js';
import { evaluateNodes } from '../../src/nix/eval.js';
import { startProcess, type StartProcess } from '../../src/nix/eval-process.js';
import { requireLabCapable } from './support.js';
import { labNixEnv } from '../../lab/index.js';

const node = (name: string, attr?: string) => ({ name, ...(attr ? { attr } : {}) }) as ResolvedNode;
const SYSTEM = new URL('../../fixtures/nix/system.nix', import.meta.url).pathname;

/** Counts the Nix processes fleet starts, running them for real. */
function counting(env: Record<string, string> = labNixEnv): { start: StartProcess; env: Record<string, string>; calls: string[][] } {
  const calls: string[][] = [];
  return { calls, env, start: (argv, options) => (calls.push(argv), startProcess(argv, options)) };
}

describe('evaluation with real Nix', { skip: requireLabCapable() }, () => {
  const dir = mkdtempSync('/tmp/fleet-eval-');
  const hive = join(dir, 'hive.nix');
  writeFileSync(hive, `let s = import ${SYSTEM}; in { a = s { name = "ev-a"; }; b = s { name = "ev-a"; }; c = s { name = "ev-c"; }; nested.d = s { name = "ev-d"; };
    broken = throw "node broken on purpose"; }`);
  const oneWorker = { nix: { file: hive, evalWorkers: 1 } };
  // 1 GiB: 90% of it holds one node at the first guess (512 MiB), so the first chunk is a one-node probe.
  const tight = { nix: { file: hive, evalWorkers: 1, evalMemory: { kind: 'bytes' as const, bytes: 2 ** 30 } } };

  test('a roomy budget: the nodes in one process', async () => {
    const roomy = counting();
    await evaluateNodes(oneWorker, [node('a'), node('b'), node('c')], { start: roomy.start, env: roomy.env });
    assert.equal(roomy.calls.length, 1);
  });

  test('a tight budget: a one-node probe, then the other nodes in one process (not one per node); identical systems share a derivation', async () => {
    const { start, env, calls } = counting();
    const r = await evaluateNodes(tight, [node('a'), node('b'), node('c'), node('d', 'nested.d')], { start, env });
    assert.deepEqual(calls.map((argv) => JSON.parse(argv[argv.indexOf('spec') + 1]!).map((n: { name: string }) => n.name)), [['a'], ['b', 'c', 'd']]);
    assert.deepEqual(r.errors, []);
    assert.equal(r.results.a!.drvPath, r.results.b!.drvPath);
    assert.notEqual(r.results.a!.drvPath, r.results.c!.drvPath);
    assert.match(r.results.d!.outPath, /^\/nix\/store\/[a-z0-9]{32}-fleet-lab-system-ev-d$/);
    assert.match(r.results.a!.drvPath, /\.drv$/);
  });

  test('an evaluation error names the node and keeps Nix\'s message; the others still evaluate', async () => {
    const { start, env } = counting();
    const r = await evaluateNodes({ nix: { file: hive } }, [node('a'), node('broken'), node('c')], { start, env });
    assert.deepEqual(Object.keys(r.results).sort(), ['a', 'c']);
    assert.equal(r.errors.length, 1);
    assert.equal(r.errors[0]!.node, 'broken');
    assert.equal(r.errors[0]!.phase, 'evaluate');
    assert.match(r.errors[0]!.message, /^broken: evaluate: error: node broken on purpose/);
  });

  test('a missing attribute is reported for its node', async () => {
    const { start, env } = counting();
    const r = await evaluateNodes({ nix: { file: hive } }, [node('zzz')], { start, env });
    assert.match(r.errors[0]!.message, /zzz: evaluate: error: attribute 'zzz' missing/);
  });

  test('a Nix that cannot start is one error per node, without a per-node retry', async () => {
    const { start, env, calls } = counting({ PATH: '/nonexistent' });
    const r = await evaluateNodes(oneWorker, [node('a'), node('c')], { start, env });
    assert.equal(calls.length, 1);
    assert.deepEqual(r.errors.map((e) => e.node), ['a', 'c']);
    assert.match(r.errors[0]!.message, /^a: evaluate: cannot run nix-instantiate/);
    assert.match(r.errors[1]!.message, /^c: evaluate: cannot run nix-instantiate/);
  });

  test('--show-trace is passed to Nix', async () => {
    const { start, env, calls } = counting();
    await evaluateNodes({ nix: { file: hive } }, [node('broken')], { start, env, showTrace: true });
    assert.ok(calls.length > 0 && calls.every((argv) => argv.includes('--show-trace')));
  });

  test('a flake: nixosConfigurations.<node>.config.system.build.toplevel, the flake opened once per chunk', async () => {
    const flake = mkdtempSync('/tmp/fleet-flake-');
    writeFileSync(join(flake, 'flake.nix'), `{ outputs = { self }: let s = import ${SYSTEM}; in {
      nixosConfigurations = { a.config.system.build.toplevel = s { name = "ev-a"; }; c.config.system.build.toplevel = s { name = "ev-c"; };
        broken.config.system.build.toplevel = throw "flake node broken"; }; }; }`);
    const { start, env, calls } = counting();
    const fromFlake = await evaluateNodes({ nix: { flake, evalWorkers: 1 } }, [node('a'), node('broken'), node('c')], { start, env });
    const fromFile = await evaluateNodes({ nix: { file: hive } }, [node('a'), node('c')], { start, env });
    assert.deepEqual(Object.keys(fromFlake.results).sort(), ['a', 'c']);
    assert.equal(fromFlake.results.a!.drvPath, fromFile.results.a!.drvPath);
    assert.equal(fromFlake.results.c!.drvPath, fromFile.results.c!.drvPath);
    assert.match(fromFlake.errors[0]!.message, /^broken: evaluate: error: flake node broken/);
    // One getFlake per process: one chunk (a, broken, c), and broken again alone for Nix's message.
    assert.equal(calls.filter((argv) => argv.includes('flake')).length, 2);
  });
});
