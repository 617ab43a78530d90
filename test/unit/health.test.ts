// Health checks for real: command checks through the local Host (counter files, timeouts, escalation), http checks
// against a local node:http server (status, body, a hang bounded by the timeout, retries), `{host}` for v4, v6, names.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { HealthCheck } from '../../src/config/types.js';
import type { BodyOf, EventBody } from '../../src/events.js';
import { BODY_SEARCHED } from '../../src/health/http.js';
import { runHealthChecks, type HealthInput } from '../../src/health/run.js';
import { healthUrl } from '../../src/health/url.js';
import type { Host } from '../../src/transport/host.js';
import { createLocalHost } from '../../src/transport/local.js';
import type { RunOptions } from '../../src/transport/run.js';
import { resolvedNode } from '../resolved-node.js';
import { targetOver } from '../target.js';
import { eventually } from '../poll.js';
import { isRunning } from '../procs.js';

const root = resolvedNode('web-1');
const timing = { timeoutMs: 5000, retries: 0, intervalMs: 10 };
const command = (name: string, argv: string[], extra: Partial<typeof timing> = {}): HealthCheck => ({ name, kind: 'command', command: argv, ...timing, ...extra });
const http = (name: string, url: string, extra: Partial<typeof timing & { expectStatus: number; expectBody: string }> = {}): HealthCheck =>
  ({ name, kind: 'http', url, expectStatus: 200, ...timing, ...extra });

/** Runs the checks; returns the result and the health events (without their envelope). */
async function check(checks: HealthCheck[], extra: Partial<HealthInput> = {}) {
  const events: BodyOf<'health'>[] = [];
  const emit = (e: EventBody) => (e.type === 'health' ? events.push(e) : assert.fail(`unexpected ${e.type}`));
  const result = await runHealthChecks({ target: targetOver(createLocalHost(), root), checks, address: '127.0.0.1', emit, ...extra });
  return { result, events: events.map(({ check, attempt, attempts, ok, detail }) => ({ check, attempt, attempts, ok, detail })) };
}

/** A shell command that fails (printing `not yet N`) until its Nth run, using a counter file. */
function passesOnRun(n: number): { argv: string[]; counter: string } {
  const counter = join(mkdtempSync(join(tmpdir(), 'fleet-health-')), 'count');
  const script = `c=$(cat "$1" 2>/dev/null || echo 0); c=$((c+1)); echo $c > "$1"; if [ $c -ge ${n} ]; then echo "up after $c"; else echo "not yet $c"; exit 3; fi`;
  return { argv: ['sh', '-c', script, 'sh', counter], counter };
}

test('command: fails twice, passes on the third attempt (retries 2): healthy, one event per attempt', async () => {
  const { argv, counter } = passesOnRun(3);
  const { result, events } = await check([command('svc', argv, { retries: 2 })]);
  assert.deepEqual(result, { ok: true });
  assert.deepEqual(events, [
    { check: 'svc', attempt: 1, attempts: 3, ok: false, detail: 'exit 3: not yet 1' },
    { check: 'svc', attempt: 2, attempts: 3, ok: false, detail: 'exit 3: not yet 2' },
    { check: 'svc', attempt: 3, attempts: 3, ok: true, detail: 'exit 0: up after 3' },
  ]);
  assert.equal(readFileSync(counter, 'utf8').trim(), '3');
});

test('command: out of attempts (retries 1 = 2 attempts): not healthy, the failed check named with its last output', async () => {
  const { argv, counter } = passesOnRun(5);
  const { result, events } = await check([command('svc', argv, { retries: 1 })]);
  assert.deepEqual(result, { ok: false, failed: { check: 'svc', detail: 'exit 3: not yet 2' } });
  assert.equal(events.length, 2);
  assert.equal(readFileSync(counter, 'utf8').trim(), '2', 'no attempt past retries + 1');
});

test('command: an attempt that hangs is killed at its timeout; output without a newline and stderr are kept', async () => {
  const { result, events } = await check([command('slow', ['sleep', '30'], { timeoutMs: 300 })]);
  assert.deepEqual(result, { ok: false, failed: { check: 'slow', detail: 'timed out after 300ms' } });
  assert.equal(events.length, 1);
  const loud = await check([command('loud', ['sh', '-c', 'echo out; echo err >&2; exit 1'])]);
  assert.deepEqual(loud.result.failed, { check: 'loud', detail: 'exit 1: out\nerr' });
  const missing = await check([command('gone', ['/nonexistent/fleet-check'])]);
  assert.match(missing.result.failed!.detail, /^could not run: /);
});

test('command: the node\'s privilegeEscalation wraps the command when the SSH user is not root, never for root', async () => {
  const probe = command('escalated', ['sh', '-c', 'test "$FLEET_ESCALATED" = yes']);
  const ops = resolvedNode('web-1', { user: 'ops', privilegeEscalation: ['env', 'FLEET_ESCALATED=yes'] });
  assert.deepEqual((await check([probe], { target: targetOver(createLocalHost(), ops) })).result, { ok: true });
  assert.equal((await check([probe], { target: targetOver(createLocalHost(), { ...ops, user: 'root' }) })).result.ok, false);
});

test('command: with a sudo password, sudo -S reads it on stdin, never in argv', async () => {
  const calls: { argv: string[]; options?: RunOptions }[] = [];
  const host: Host = {
    ...createLocalHost(),
    run: async (argv, options) => {
      calls.push({ argv, ...(options ? { options } : {}) });
      return { argv, exitCode: 0, stdout: '', stderr: '', failed: false, timedOut: false, canceled: false, message: '' };
    },
  };
  const node = resolvedNode('web-1', { user: 'ops' });
  await check([command('svc', ['systemctl', 'is-active', 'nginx'], { timeoutMs: 7000 })], { target: targetOver(host, node, 'pw') });
  assert.deepEqual(calls.map((c) => [c.argv, c.options?.input, c.options?.timeoutMs]), [
    // The check's own deadline runs inside the escalation, as root: sudo passes the transport's signal on to the
    // command alone, so the command's children would stay.
    [['sudo', '-S', '-p', '', '-H', '--', 'timeout', '-k', '5', '8', 'systemctl', 'is-active', 'nginx'], 'pw\n', 7000],
  ]);
});

test('command: under escalation a hanging check ends at its timeout with its children, by the deadline inside the escalation', { timeout: 20_000 }, async () => {
  // A stand-in escalation that leaves its command's children running when it is killed itself, as sudo does.
  const ops = resolvedNode('web-1', { user: 'ops', privilegeEscalation: ['sh', '-c', '"$@" & trap "" TERM; wait $!', 'escalate'] });
  const { result } = await check([command('slow', ['sh', '-c', 'sleep 60 & echo "child $!"; wait'], { timeoutMs: 300 })], { target: targetOver(createLocalHost(), ops) });
  const child = Number(/child (\d+)/.exec(result.failed!.detail)?.[1]);
  assert.match(result.failed!.detail, /^timed out after 300ms: child \d+$/);
  assert.ok(await eventually(() => !isRunning(child), { timeoutMs: 10_000, everyMs: 20 }), 'the command\'s child ended at the deadline');
});

test('checks run in order; the first that fails stops the others; all passing is healthy', async () => {
  const { result, events } = await check([command('a', ['true']), command('b', ['false']), command('c', ['true'])]);
  assert.deepEqual(result, { ok: false, failed: { check: 'b', detail: 'exit 1' } });
  assert.deepEqual(events.map((e) => [e.check, e.ok]), [['a', true], ['b', false]]);
  assert.deepEqual((await check([command('a', ['true']), command('c', ['true'])])).result, { ok: true });
  assert.deepEqual((await check([])).result, { ok: true });
});

test('a signal that fired stops before the next attempt: not healthy, interrupted', async () => {
  const controller = new AbortController();
  controller.abort();
  const { result, events } = await check([command('a', ['true'])], { signal: controller.signal });
  assert.deepEqual(result, { ok: false, interrupted: true, failed: { check: 'a', detail: 'interrupted (last attempt: not attempted)' } });
  assert.deepEqual(events, []);
  const later = new AbortController();
  const { argv } = passesOnRun(9);
  const emitAbort = await runHealthChecks({
    target: targetOver(createLocalHost(), root), checks: [command('svc', argv, { retries: 5, intervalMs: 60_000 })], address: '127.0.0.1',
    emit: () => later.abort(), signal: later.signal, // aborts during the wait after the first attempt
  });
  assert.deepEqual(emitAbort, { ok: false, interrupted: true, failed: { check: 'svc', detail: 'interrupted (last attempt: exit 3: not yet 1)' } });
});

// One local HTTP server per address family: /ok, /down (503), /wrong (200 without `ok`), /hang (never answers), /flaky (503 twice, then ok).
const servers: Server[] = [];
let port4 = 0;
let port6 = 0;
let flaky = 0;
const hanging: (() => void)[] = [];
/** A body that never ends (as a 200 MB one, for a reader that reads it whole): 64 KiB chunks until the client goes. */
const endlessSent: { bytes: number; closedEarly: boolean }[] = [];
function endless(res: ServerResponse, first: string): void {
  const sent = { bytes: 0, closedEarly: false };
  endlessSent.push(sent);
  const chunk = Buffer.alloc(64 * 1024, 'y');
  res.on('close', () => (sent.closedEarly = !res.writableFinished));
  res.write(first);
  const more = () => {
    while (!res.destroyed && sent.bytes < 1024 ** 3) {
      sent.bytes += chunk.length;
      if (!res.write(chunk)) return void res.once('drain', more);
    }
  };
  more();
}
function serve(host: string): Promise<number> {
  const server = createServer((req, res) => {
    if (req.url === '/ok') return void res.end('status: ok');
    if (req.url === '/down') return void res.writeHead(503).end('starting\nplease wait');
    if (req.url === '/wrong') return void res.end('status: degraded');
    if (req.url === '/flaky') return void (++flaky <= 2 ? res.writeHead(503).end('not yet') : res.end('ok'));
    if (req.url === '/hang') return void hanging.push(() => res.end('late'));
    if (req.url === '/moved') return void res.writeHead(302, { location: '/ok' }).end('moved to /ok');
    if (req.url === '/endless' || req.url === '/endless-ok') return void endless(res, req.url === '/endless-ok' ? 'status: ok ' : '');
    if (req.url === '/ok-too-late') return void res.end(`${'x'.repeat(BODY_SEARCHED)}ok`);
    res.writeHead(404).end();
  });
  servers.push(server);
  return new Promise((resolve) => server.listen(0, host, () => resolve((server.address() as AddressInfo).port)));
}
before(async () => {
  port4 = await serve('127.0.0.1');
  port6 = await serve('::1');
});
after(() => {
  for (const release of hanging) release();
  for (const server of servers) server.close();
});

test('http: expected status and body substring pass; {host} is the node address (IPv4 and IPv6 in brackets)', async () => {
  const v4 = await check([http('web', `http://{host}:${port4}/ok`, { expectBody: 'ok' })]);
  assert.deepEqual(v4.result, { ok: true });
  assert.deepEqual(v4.events, [{ check: 'web', attempt: 1, attempts: 1, ok: true, detail: 'HTTP 200' }]);
  const v6 = await check([http('web', `http://{host}:${port6}/ok`, { expectBody: 'ok' })], { address: '::1' });
  assert.deepEqual(v6.result, { ok: true });
  assert.deepEqual((await check([http('web', `http://localhost:${port4}/ok`)])).result, { ok: true }, 'a URL without {host}');
});

test('http: a wrong status or a body without the substring fails, showing what came back', async () => {
  assert.deepEqual((await check([http('web', `http://{host}:${port4}/down`)])).result.failed, { check: 'web', detail: 'HTTP 503, expected 200: starting please wait' });
  assert.deepEqual((await check([http('web', `http://{host}:${port4}/down`, { expectStatus: 503 })])).result, { ok: true });
  assert.deepEqual((await check([http('web', `http://{host}:${port4}/wrong`, { expectBody: 'ok' })])).result.failed, {
    check: 'web', detail: 'HTTP 200, but the body does not contain `ok`: status: degraded',
  });
});

test('http: a server that never answers is bounded by the timeout; a closed port fails at once', async () => {
  const hang = await check([http('web', `http://{host}:${port4}/hang`, { timeoutMs: 300 })]);
  assert.deepEqual(hang.result.failed, { check: 'web', detail: `timed out after 300ms (http://127.0.0.1:${port4}/hang)` });
  const closed = await serve('127.0.0.1');
  servers.pop()!.close();
  const refused = await check([http('web', `http://{host}:${closed}/ok`)]);
  assert.match(refused.result.failed!.detail, new RegExp(`^cannot reach http://127\\.0\\.0\\.1:${closed}/ok: .*ECONNREFUSED`));
});

test('http: a redirect is the answer, never followed: expectStatus 302 passes, 200 fails naming the 302', async () => {
  assert.deepEqual((await check([http('web', `http://{host}:${port4}/moved`, { expectStatus: 302 })])).result, { ok: true });
  assert.deepEqual((await check([http('web', `http://{host}:${port4}/moved`)])).result.failed, { check: 'web', detail: 'HTTP 302, expected 200: moved to /ok' });
});

test('http: only the beginning of a body is read: an endless body passes without expectBody, or once expectBody shows up; the server sees the client go', async () => {
  endlessSent.length = 0;
  assert.deepEqual((await check([http('web', `http://{host}:${port4}/endless`, { timeoutMs: 5000 })])).result, { ok: true });
  assert.deepEqual((await check([http('web', `http://{host}:${port4}/endless-ok`, { expectBody: 'ok', timeoutMs: 5000 })])).result, { ok: true });
  const missing = await check([http('web', `http://{host}:${port4}/endless`, { expectBody: 'ok', timeoutMs: 5000 })]);
  assert.match(missing.result.failed!.detail, /^HTTP 200, but the first 64 KiB of the body do not contain `ok`: y{200}…$/);
  assert.ok(await eventually(() => endlessSent.length === 3 && endlessSent.every((s) => s.closedEarly), { timeoutMs: 5000 }), 'each connection closed by the client mid-body');
  const late = await check([http('web', `http://{host}:${port4}/ok-too-late`, { expectBody: 'ok' })]);
  assert.match(late.result.failed!.detail, /^HTTP 200, but the first 64 KiB of the body do not contain `ok`/, 'expectBody is searched in the first 64 KiB');
});

test('http: fails twice then passes within its retries: healthy, three attempts', async () => {
  flaky = 0;
  const { result, events } = await check([http('web', `http://{host}:${port4}/flaky`, { retries: 3 })]);
  assert.deepEqual(result, { ok: true });
  assert.deepEqual(events.map((e) => [e.attempt, e.attempts, e.ok, e.detail]), [
    [1, 4, false, 'HTTP 503, expected 200: not yet'],
    [2, 4, false, 'HTTP 503, expected 200: not yet'],
    [3, 4, true, 'HTTP 200'],
  ]);
});

test('{host}: IPv4 and names as they are, IPv6 in brackets (a zone id escaped), every occurrence', () => {
  assert.equal(healthUrl('http://{host}:8080/health', '10.0.0.1'), 'http://10.0.0.1:8080/health');
  assert.equal(healthUrl('http://{host}/health', 'web-1.example.com'), 'http://web-1.example.com/health');
  assert.equal(healthUrl('http://{host}:8080/', '2001:db8::1'), 'http://[2001:db8::1]:8080/');
  assert.equal(healthUrl('http://{host}/', 'fe80::1%eth0'), 'http://[fe80::1%25eth0]/');
  assert.equal(healthUrl('https://mon.example/check?h={host}&again={host}', '10.0.0.1'), 'https://mon.example/check?h=10.0.0.1&again=10.0.0.1');
  assert.equal(healthUrl('http://fixed.example/ok', '10.0.0.1'), 'http://fixed.example/ok');
});
