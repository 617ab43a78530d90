// Rollout keys and flags on systemd lab hosts that systemd-rollout.test.ts leaves out: `rollout.onFailure` as a
// fleet-file key, `--skip-health-checks`, and an http check's `expectStatus` passing and failing. Every assertion
// reads the hosts: /run/current-system, the profile, unit fleet-lab-web, the service's own request log.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { readSystemState, readWebService, type StandInSpec, type SystemState } from '../../lab/index.js';
import { configureHive, requireSystemdLabCapable, useSystemdLab } from './support.js';
import { nodeDoneText, outcomesOf, runFleet, summaryOf } from './run-fleet.js';

const NODES = ['s1', 's2', 's3'];
const STATE = '/nix/var/fleet-lab';
const SERVICE_CHECK = { name: 'web', command: ['systemctl', 'is-active', '--quiet', 'fleet-lab-web'], timeout: '5s', retries: 1, interval: '1s' };

describe('rollout options on systemd hosts', { skip: requireSystemdLabCapable() }, () => {
  const ctx = useSystemdLab({ before, after }, { hosts: NODES });
  const nonce = randomBytes(4).toString('hex');
  let hive: string;
  let n = 0;

  /** Every node gets a brand-new system (web: ok unless said otherwise); returns the out paths. */
  const configure = (specs: Record<string, Partial<StandInSpec>> = {}) => {
    const step = ++n;
    return configureHive(ctx.lab, hive, Object.fromEntries(NODES.map((node) => [node, { name: `o${step}-${node}-${nonce}`, web: 'ok', ...specs[node] } satisfies StandInSpec])));
  };
  const read = async (host: string, argv: string[]) => (await ctx.lab.exec(host, argv)).stdout.trim();
  const service = (host: string) => readWebService(ctx.lab, host);
  const snapshot = async (host: string): Promise<SystemState & { service?: string }> => ({ ...(await readSystemState(ctx.lab, host)), service: await service(host) });
  const requests = async (host: string) => (await read(host, ['sh', '-c', `cat ${STATE}/web-requests.log 2>/dev/null || true`])).split('\n').filter(Boolean);
  const onNew = async (node: string, out: string, svc: string | undefined = out) => {
    const s = await snapshot(node);
    assert.deepEqual([s.current, s.profile, s.service], [out, out, svc], `${node}: on its new system (service ${svc})`);
  };

  before(async () => {
    hive = `${ctx.lab.dir}/hive.nix`;
    await configure();
    const plain = await ctx.lab.writeFleet({ nixFile: hive, path: `${ctx.lab.dir}/fleet-plain.yaml` });
    const base = await runFleet(['-f', plain, 'apply', '--json']);
    assert.equal(base.code, 0, base.stderr);
  });

  test('rollout.onFailure: stop in the fleet file: the failing node alone rolls back, its healthy wave-mate stays, wave 2 held; --skip-health-checks then activates the never-healthy node (exit 0)', async () => {
    const file = await ctx.lab.writeFleet({
      nixFile: hive,
      path: `${ctx.lab.dir}/fleet-stop.yaml`,
      extra: { rollout: { waves: [2, '100%'], onFailure: 'stop' } },
      // The service's own log shows who asked /cgi-bin/health: a host-side witness of the http check.
      defaults: { confirmTimeout: '10s', healthChecks: [SERVICE_CHECK, { name: 'health', http: 'http://{host}:8080/cgi-bin/health', expectBody: 'ok', timeout: '5s', retries: 0 }] },
    });
    const before = Object.fromEntries(await Promise.all(NODES.map(async (h) => [h, await snapshot(h)] as const)));
    const outs = await configure({ s1: { web: 'down' } });
    const run = await runFleet(['-f', file, 'apply', '--json']);
    assert.equal(run.code, 1, run.stderr);
    assert.deepEqual(outcomesOf(run), { s1: 'rolled-back', s2: 'activated', s3: 'held' });
    assert.match(nodeDoneText(run, 's1'), /health check `web` failed: exit 3; rolled back to system-\d+-link/);
    assert.match(summaryOf(run).nodes.s3!.error ?? '', /not started: wave 1 failed/);
    assert.deepEqual(await snapshot('s1'), before.s1, 's1: back on its old system, its old service running');
    await onNew('s2', outs.s2!);
    assert.deepEqual(await snapshot('s3'), before.s3, 's3: untouched');

    // The emergency switch: the same never-healthy system now goes live and stays; nothing asks the service.
    const asked = (await requests('s3')).length;
    const skipped = await runFleet(['-f', file, 'apply', '--json', '--skip-health-checks']);
    assert.equal(skipped.code, 0, skipped.stderr);
    assert.deepEqual(outcomesOf(skipped), { s1: 'activated', s2: 'unchanged', s3: 'activated' });
    assert.deepEqual(skipped.events.filter((e) => e.type === 'health'), [], 'no health check ran');
    await onNew('s1', outs.s1!, 'inactive');
    await onNew('s3', outs.s3!);
    assert.deepEqual((await requests('s3')).slice(asked), [], 's3: its service was never asked');
  });

  test('http checks with expectStatus: 404 expected and answered passes, 201 expected and 200 answered fails and rolls back', async () => {
    const check = { timeout: '5s', retries: 0 };
    const file = await ctx.lab.writeFleet({
      nixFile: hive,
      path: `${ctx.lab.dir}/fleet-status.yaml`,
      extra: { rollout: { waves: ['100%'], maxFailures: '100%' } },
      defaults: { confirmTimeout: '10s' },
      nodes: {
        s1: { healthChecks: [{ name: 'gone', http: 'http://{host}:8080/cgi-bin/gone', expectStatus: 404, ...check }] },
        s2: { healthChecks: [{ name: 'created', http: 'http://{host}:8080/cgi-bin/health', expectStatus: 201, ...check }] },
      },
    });
    const before = await snapshot('s2');
    const asked = (await requests('s2')).length;
    const outs = await configure();
    const run = await runFleet(['-f', file, 'apply', '--on', 's1,s2', '--json']);
    assert.equal(run.code, 1, run.stderr);
    assert.deepEqual(outcomesOf(run), { s1: 'activated', s2: 'rolled-back' });
    const attempts = (node: string) => run.events.filter((e) => e.type === 'health' && e.node === node).map((e) => e.type === 'health' && [e.check, e.ok, e.detail]);
    assert.deepEqual(attempts('s1'), [['gone', true, 'HTTP 404']]);
    assert.deepEqual(attempts('s2'), [['created', false, `HTTP 200, expected 201: ok o${n}-s2-${nonce}`]]);
    assert.match(nodeDoneText(run, 's2'), /health check `created` failed: HTTP 200, expected 201: ok .*; rolled back to system-\d+-link/);
    await onNew('s1', outs.s1!);
    assert.deepEqual(await snapshot('s2'), before, 's2: back on its old system, its old service running');
    assert.deepEqual((await requests('s2')).slice(asked), [`[::ffff:${ctx.lab.subnet.gateway4}] ok`], 's2: its new service was asked once');
  });
});
