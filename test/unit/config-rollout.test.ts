// `rollout` and `healthChecks` in the fleet file: resolution, defaults, and every error at file:line:col.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { analyseFleet, parseFleet } from '../../src/config/index.js';
import { HEALTH_CHECK_DEFAULTS, ROLLOUT_DEFAULTS } from '../../src/config/resolve.js';
import { getSchema, type SchemaObject } from '../../src/config/schema.js';

function diagnose(yaml: string): string[] {
  return analyseFleet(yaml, '/srv/fleet.yaml').diagnostics.map((d) => `${d.line}:${d.col} ${d.severity}: ${d.message}`);
}

const head = 'version: 1\nnix:\n  file: ./hive.nix\n';
const nodes = 'nodes:\n  canary-1:\n    host: h1\n    tags: [canary]\n  web-1:\n    host: h2\n    tags: [web]\n';

test('rollout and health check defaults equal the schema `default` annotations', () => {
  const defs = getSchema().$defs as Record<string, SchemaObject>;
  const rollout = defs.rollout!.properties as Record<string, SchemaObject>;
  for (const [key, value] of Object.entries(ROLLOUT_DEFAULTS)) assert.deepEqual(rollout[key]!.default, value, key);
  const check = defs.healthCheck!.properties as Record<string, SchemaObject>;
  for (const [key, value] of Object.entries(HEALTH_CHECK_DEFAULTS)) assert.deepEqual(check[key]!.default, value, key);
});

test('no rollout key: no rollout config; a rollout key resolves counts, percentages, pause and the defaults', () => {
  assert.equal(parseFleet(`${head}${nodes}`, '/f.yaml').rollout, undefined);
  const fleet = parseFleet(`${head}rollout:\n  waves: [1, 5, "20%"]\n  order: ["tag:canary"]\n  maxFailures: "10%"\n  pause: 30s\n${nodes}`, '/f.yaml');
  assert.deepEqual(fleet.rollout, {
    waves: [{ count: 1 }, { count: 5 }, { percent: 20 }],
    order: ['tag:canary'],
    maxFailures: { percent: 10 },
    onFailure: 'rollback-wave',
    pause: { kind: 'delay', ms: 30_000 },
  });
  const empty = parseFleet(`${head}rollout: {}\n${nodes}`, '/f.yaml').rollout;
  assert.deepEqual(empty, { waves: [{ percent: 100 }], order: [], maxFailures: { count: 0 }, onFailure: 'rollback-wave', pause: { kind: 'none' } });
  const confirm = parseFleet(`${head}rollout:\n  pause: confirm\n  onFailure: stop\n  maxFailures: 2\n${nodes}`, '/f.yaml').rollout;
  assert.deepEqual([confirm?.pause, confirm?.onFailure, confirm?.maxFailures], [{ kind: 'confirm' }, 'stop', { count: 2 }]);
  for (const zero of ['0s', '0ms', '0m']) assert.deepEqual(parseFleet(`${head}rollout:\n  pause: ${zero}\n${nodes}`, '/f.yaml').rollout?.pause, { kind: 'none' });
  for (const edge of ['"0%"', '"100%"']) assert.deepEqual(diagnose(`${head}rollout:\n  waves: [${edge}]\n  maxFailures: ${edge}\n${nodes}`), []);
});

test('health checks: a node list replaces the defaults list; defaults for timeout, retries, interval, expectStatus', () => {
  const fleet = parseFleet(
    `${head}defaults:\n  healthChecks:\n    - name: nginx\n      command: [systemctl, is-active, --quiet, nginx]\n` +
      'nodes:\n  a:\n    host: h1\n  b:\n    host: h2\n    healthChecks:\n      - name: web\n        http: "http://{host}:8080/health"\n' +
      '        expectBody: ok\n        timeout: 5s\n        retries: 10\n        interval: 1s\n  c:\n    host: h3\n    healthChecks: []\n',
    '/f.yaml',
  );
  assert.deepEqual(fleet.nodes.a!.healthChecks, [
    { name: 'nginx', kind: 'command', command: ['systemctl', 'is-active', '--quiet', 'nginx'], timeoutMs: 10_000, retries: 3, intervalMs: 2000 },
  ]);
  assert.deepEqual(fleet.nodes.b!.healthChecks, [
    { name: 'web', kind: 'http', url: 'http://{host}:8080/health', expectStatus: 200, expectBody: 'ok', timeoutMs: 5000, retries: 10, intervalMs: 1000 },
  ]);
  assert.deepEqual(fleet.nodes.c!.healthChecks, []);
});

test('rollout: wave sizes, budgets, onFailure and pause are checked where they are written', () => {
  const out = diagnose(`${head}rollout:\n  waves: [0, "101%", x, 2.5]\n  maxFailures: -1\n  onFailure: rollback\n  pause: soon\n${nodes}`);
  assert.deepEqual(out, [
    '5:11 error: `rollout.waves[0]` must be at least 1, got the number 0',
    '5:14 error: `rollout.waves[1]` must be a number of nodes such as `5` or a percentage from `0%` to `100%` such as `20%`, got `101%`',
    '5:22 error: `rollout.waves[2]` must be a number of nodes such as `5` or a percentage from `0%` to `100%` such as `20%`, got `x`',
    '5:25 error: `rollout.waves[3]` must be a whole number or a string, got the number 2.5',
    '6:16 error: `rollout.maxFailures` must be at least 0, got the number -1',
    '7:14 error: `rollout.onFailure` must be one of `rollback-wave`, `rollback-all` or `stop`, got the string "rollback"',
    '8:10 error: `rollout.pause` must be `0s`, a duration from `1s` to `24h` such as `30s` or `5m`, or `confirm`, got `soon`',
  ]);
  assert.deepEqual(diagnose(`${head}rollout:\n  waves: []\n${nodes}`), ['5:10 error: `rollout.waves` must list at least 1 entry']);
  assert.match(diagnose(`${head}rollout:\n  onFailure: rollback-wav\n${nodes}`)[0]!, /; did you mean `rollback-wave`\?$/);
  assert.match(diagnose(`${head}rollout:\n  wave: [1]\n${nodes}`)[0]!, /^5:3 error: unknown key `wave` in `rollout`; did you mean `waves`\?/);
});

test('rollout.order: a selector that does not parse or matches no node of the fleet is an error naming what exists', () => {
  const out = diagnose(`${head}rollout:\n  order: ["tag:canray", "web-1", "a b", "web-*,&tag:canary"]\n${nodes}`);
  assert.deepEqual(out, [
    '5:11 error: `rollout.order[0]`: no tag `canray`; did you mean `canary`? tags: canary, web',
    '5:34 error: `rollout.order[2]`: a space is not allowed (column 2 of `a b`); separate terms with `,` only',
    '5:41 error: `rollout.order[3]`: `web-*,&tag:canary` selects no node: none of the 1 node selected by `web-*` matches `&tag:canary`',
  ]);
  assert.deepEqual(diagnose(`${head}rollout:\n  order: ["tag:canary", "@web", "canary-*"]\n${nodes}`), []);
});

test('health checks: command and http together, neither, http-only keys on a command check, duplicate names, bad URLs', () => {
  const out = diagnose(
    `${head}defaults:\n  healthChecks:\n    - name: a\n      command: [x]\n      http: "http://{host}/"\n    - name: a\n` +
      '    - name: c\n      command: [x]\n      expectStatus: 200\n      expectBody: ok\n    - name: d\n      http: "ftp://x"\n' +
      '    - name: e\n      http: "http://[{host}/x"\n    - name: f\n      http: "https://monitor.example/fleet/ok"\n' +
      'nodes:\n  a:\n    host: h\n',
  );
  assert.deepEqual(out, [
    '8:7 error: `defaults.healthChecks[0]` must set only one of `command` or `http`, not both',
    '9:7 error: `defaults.healthChecks[1]` must set `command` (run on the target) or `http` (a URL asked from the deployer)',
    '9:13 error: `defaults.healthChecks[1]`: health check name `a` is already used by `defaults.healthChecks[0]`; names must be unique',
    '12:7 error: `defaults.healthChecks[2]`: `expectStatus` applies only to `http` checks; remove it or use `http`',
    '13:7 error: `defaults.healthChecks[2]`: `expectBody` applies only to `http` checks; remove it or use `http`',
    '15:13 error: `defaults.healthChecks[3].http` must be an `http://` or `https://` URL such as `http://{host}:8080/health`, got `ftp://x`',
    '17:13 error: `defaults.healthChecks[4].http` is not a valid URL: `http://[{host}/x` (write e.g. `http://{host}:8080/health`)',
  ]);
});

test('health checks on a node: schema errors name the node; a missing name; durations from 1s', () => {
  const out = diagnose(
    `${head}nodes:\n  a:\n    host: h\n    healthChecks:\n      - command: [true]\n      - name: x\n        http: "http://{host}:8080/"\n` +
      '        retries: -1\n        timeout: 0s\n        bogus: 1\n',
  );
  assert.deepEqual(out, [
    '8:9 error: missing required key `name` in `healthChecks[0]` of node `a`',
    '8:19 error: `healthChecks[0].command[0]` of node `a` must be a string, got true',
    '11:18 error: `healthChecks[1].retries` of node `a` must be from 0 to 1000, got the number -1',
    '12:18 error: `healthChecks[1].timeout` of node `a` must be a duration from `1s` to `24h`, such as `1500ms`, `10s`, `5m` or `1h`, got `0s`',
    '13:9 error: unknown key `bogus` in `healthChecks[1]` of node `a`; known keys: name, command, http, expectStatus, expectBody, timeout, retries, interval',
  ]);
});

test('defaults.healthChecks every node replaces gets the unused-default warning', () => {
  const out = diagnose(`${head}defaults:\n  healthChecks: [{ name: a, command: [x] }]\nnodes:\n  a:\n    host: h\n    healthChecks: []\n`);
  assert.deepEqual(out, ['5:3 warning: `defaults.healthChecks` is never used: every node sets its own `healthChecks`']);
});
