// cache-fanout: one closure of ~30 MB of random (incompressible) bytes to 16 systemd lab hosts over the deployer's
// shaped uplink (tbf, 50 Mbit/s out of this machine; the hosts' own links stay fast), `copy: push` against
// `copy: cache`, side by side, a fresh system per run, built beforehand (not timed). The cache is Debian's nginx in a
// 17th host's network namespace, taking the upload over HTTP (PUT) and serving the targets. Measured: the bytes
// this machine sent into the lab (the uplink's tx counter) and wall time; after every run every host must run the
// new system, and on the cache route hold every path of it with the cache's signature.
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { execa } from 'execa';
import { evalOutPaths, readSystemState, startCacheServer, upSystemdLab, writeHive, type CacheServer, type StandInSpec, type SystemdLab } from '../lab/index.js';
import { readEventLines } from '../src/events.js';
import { perRepetition, repeatRotated, wallByContender, type Timed } from './lib/compare.js';
import { expectOutcomes, NIX_ENV, runFleet } from './lib/fleet.js';
import { target, writeResult } from './lib/results.js';
import { formatSeconds, repetitions, round, summarize, timeIt } from './lib/stats.js';

const HOSTS = Array.from({ length: 16 }, (_v, i) => `n${i + 1}`);
const CACHE_HOST = 'cache';
const RATE_MBIT = 50;
const PAYLOAD_BYTES = 30 * 1024 * 1024;
const KEY_NAME = 'fleet-bench-cache-1';
const CONTENDERS = ['push', 'cache'] as const;
type Contender = (typeof CONTENDERS)[number];

interface Sample extends Timed<Contender> {
  sentBytes: number;
  closureBytes: number;
}

interface Bench {
  lab: SystemdLab;
  server: CacheServer;
  hive: string;
  fleetFile: string;
  uplink: string;
  runId: string;
}

const specsFor = (nonce: string): Record<string, StandInSpec> => Object.fromEntries([...HOSTS, CACHE_HOST].map((h) => [h, {
  name: 'fanout', nonce, packages: [{ name: `payload-${nonce}`, bytes: PAYLOAD_BYTES, random: true }],
}]));

const txBytes = async (uplink: string) => Number((await readFile(`/sys/class/net/${uplink}/statistics/tx_bytes`, 'utf8')).trim());

async function closureBytes(out: string): Promise<number> {
  const paths = (await execa('nix-store', ['--query', '--requisites', out], { env: NIX_ENV })).stdout.split('\n').filter(Boolean);
  const sizes = (await execa('nix-store', ['--query', '--size', ...paths], { env: NIX_ENV })).stdout.split('\n').map(Number);
  return sizes.reduce((a, b) => a + b, 0);
}

/** Every host runs and boots the new system; on the cache route every path of it carries the cache's signature there. */
async function verify(lab: SystemdLab, out: string, signed: boolean): Promise<void> {
  const wrong: string[] = [];
  await Promise.all(HOSTS.map(async (h) => {
    const s = await readSystemState(lab, h);
    if (s.current !== out || s.profile !== out) wrong.push(`${h}: runs ${s.current ?? '-'}, profile ${s.profile ?? '-'}`);
    if (!signed) return;
    const r = await lab.exec(h, ['nix', '--extra-experimental-features', 'nix-command', 'path-info', '--sigs', '--recursive', out]);
    const unsigned = r.stdout.trim().split('\n').filter((l) => !l.includes(`${KEY_NAME}:`));
    if (r.exitCode !== 0 || unsigned.length > 0) wrong.push(`${h}: paths without the cache's signature: ${unsigned.join(', ') || r.stderr}`);
  }));
  if (wrong.length > 0) throw new Error(`cache-fanout: hosts not as expected:\n${wrong.join('\n')}`);
}

async function measure(b: Bench, contender: Contender, r: number): Promise<Sample> {
  await writeHive(b.hive, specsFor(`${b.runId}-${r}-${contender}`), b.lab.witness);
  // Built beforehand (not timed): both contenders then only distribute and activate.
  expectOutcomes(await runFleet(['-f', b.fleetFile, 'apply', 'build', '--on', `!${CACHE_HOST}`, '--json']), ['built']);
  const out = (await evalOutPaths(b.hive)).n1!; // one system for every host
  const size = await closureBytes(out);
  const tx = await txBytes(b.uplink);
  const { ms, value: run } = await timeIt(() => runFleet(['-f', b.fleetFile, 'apply', '--on', `!${CACHE_HOST}`, '--json', '--parallel', String(HOSTS.length), '--copy', contender], {}, 900_000));
  const sent = (await txBytes(b.uplink)) - tx;
  expectOutcomes(run, ['activated']);
  await verify(b.lab, out, contender === 'cache');
  if (contender === 'cache' && readEventLines(run.stdout).some((e) => e.type === 'cache-fallback')) throw new Error('cache-fanout: a host fell back to push');
  console.error(`cache-fanout: rep ${r + 1} ${contender.padEnd(5)} ${(ms / 1000).toFixed(2)} s, sent ${(sent / 1e6).toFixed(1)} MB for a ${(size / 1e6).toFixed(1)} MB closure (${(sent / size).toFixed(2)}×)`);
  return { contender, repetition: r, ms: round(ms, 1), sentBytes: sent, closureBytes: size };
}

async function main(): Promise<void> {
  const reps = repetitions(3);
  const runId = randomBytes(4).toString('hex');
  const lab = await upSystemdLab({ hosts: [...HOSTS, CACHE_HOST] });
  let server: CacheServer | undefined;
  try {
    await execa('nix-store', ['--generate-binary-cache-key', KEY_NAME, `${lab.dir}/cache.sec`, `${lab.dir}/cache.pub`]);
    const publicKey = (await readFile(`${lab.dir}/cache.pub`, 'utf8')).trim();
    const cacheHost = lab.hosts.find((h) => h.name === CACHE_HOST)!;
    server = await startCacheServer(`${lab.dir}/cache-server`, { address: cacheHost.v4, port: 8080, netns: lab.pid1(CACHE_HOST)! });
    const hive = `${lab.dir}/hive.nix`;
    const fleetFile = await lab.writeFleet({
      nixFile: hive,
      // Uploaded over HTTP through the shaped uplink, stored uncompressed (random bytes do not compress).
      extra: { cache: { url: `${server.url}?compression=none`, substituter: server.url, publicKey, signingKey: `${lab.dir}/cache.sec` } },
    });
    // The deployer's own link: what leaves this machine for the lab, both pushes and the upload, at RATE_MBIT.
    await execa('tc', ['qdisc', 'replace', 'dev', lab.subnet.uplink, 'root', 'tbf', 'rate', `${RATE_MBIT}mbit`, 'burst', '256k', 'latency', '100ms']);
    const samples = await repeatRotated(reps, CONTENDERS, (c, r) => measure({ lab, server: server!, hive, fleetFile, uplink: lab.subnet.uplink, runId }, c, r));
    await report(samples, reps);
  } finally {
    await server?.stop();
    await lab.down();
  }
}

async function report(samples: Sample[], reps: number): Promise<void> {
  const of = (c: Contender) => samples.filter((s) => s.contender === c);
  const wall = wallByContender(CONTENDERS, samples);
  const ratio = (c: Contender) => summarize(of(c).map((s) => s.sentBytes / s.closureBytes));
  const sent = { push: ratio('push'), cache: ratio('cache') };
  const speedup = round(wall.push.median / wall.cache.median, 2);
  const closureMb = round(summarize(samples.map((s) => s.closureBytes)).median / 1e6, 1);
  await writeResult(
    'cache-fanout',
    {
      setup: { hosts: HOSTS.length, closureMB: closureMb, payload: 'random bytes', uplinkMbit: RATE_MBIT, hostLinks: 'unshaped', cache: 'nginx (Debian) in a lab host\'s netns, upload by HTTP PUT, compression=none', repetitions: reps, parallel: HOSTS.length, lab: 'systemd' },
      contenders: Object.fromEntries(CONTENDERS.map((c) => [c, { wallMs: wall[c], sentOverClosure: sent[c], sentBytes: of(c).map((s) => s.sentBytes) }])),
      ratios: { pushOverCache: speedup, perRepetition: perRepetition(samples, 'push', 'cache') },
      samples,
    },
    {
      result: `${HOSTS.length} hosts, ${closureMb} MB closure, ${RATE_MBIT} Mbit/s uplink: push ${formatSeconds(wall.push)} sending ${sent.push.median.toFixed(2)}× the closure, cache ${formatSeconds(wall.cache)} sending ${sent.cache.median.toFixed(2)}×; push/cache ${speedup}×`,
      targets: [
        target('cache: sent ≤ 1.1× closure', `${sent.cache.median.toFixed(2)}× [${sent.cache.min.toFixed(2)}–${sent.cache.max.toFixed(2)}]`, sent.cache.max <= 1.1),
        target('cache ≥ 5× faster than push', `${speedup}×`, speedup >= 5),
      ],
    },
  );
  console.error(`cache-fanout: push ${formatSeconds(wall.push)} (${sent.push.median.toFixed(2)}× sent), cache ${formatSeconds(wall.cache)} (${sent.cache.median.toFixed(2)}× sent), push/cache ${speedup}×`);
}

await main();
