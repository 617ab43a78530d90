// A process-table sampler for the secrets tests: a separate process that reads every /proc/<pid>/cmdline of this
// machine (the systemd lab hosts' processes included: one kernel) again and again until stopped, and reports any
// argv holding the secret, and how many argvs it saw holding a marker, here and in other mount namespaces (the
// hosts): proof that it ran while the upload did. The secret reaches it through its environment, never its argv.
import { execa, type ResultPromise } from 'execa';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const SAMPLER = String.raw`
const fs = require('fs');
const secret = process.env.SAMPLER_SECRET, marker = process.env.SAMPLER_MARKER, stop = process.env.SAMPLER_STOP, out = process.env.SAMPLER_OUT;
const self = fs.readlinkSync('/proc/self/ns/mnt');
const leaks = new Set();
const seen = { here: new Set(), hosts: new Set() };
let scans = 0;
fs.writeFileSync(out + '.ready', '');
while (!fs.existsSync(stop)) {
  scans++;
  for (const pid of fs.readdirSync('/proc')) {
    if (!/^[0-9]+$/.test(pid) || Number(pid) === process.pid) continue;
    let argv;
    try { argv = fs.readFileSync('/proc/' + pid + '/cmdline'); } catch { continue; }
    if (argv.length === 0) continue;
    if (argv.includes(secret)) leaks.add(argv.toString('latin1').replaceAll('\0', ' ').slice(0, 400));
    if (argv.includes(marker)) {
      let ns = '';
      try { ns = fs.readlinkSync('/proc/' + pid + '/ns/mnt'); } catch {}
      (ns === self ? seen.here : seen.hosts).add(pid);
    }
  }
}
fs.writeFileSync(out, JSON.stringify({ scans, leaks: [...leaks], here: seen.here.size, hosts: seen.hosts.size }));
`;

export interface SamplerReport {
  scans: number;
  /** argvs that held the secret (at most 400 characters each). */
  leaks: string[];
  /** Distinct processes whose argv held the marker: in this machine's mount namespace, and in others (the hosts). */
  here: number;
  hosts: number;
}

export interface Sampler {
  stop(): Promise<SamplerReport>;
}

/** Starts sampling; resolves once the sampler runs. */
export async function startArgvSampler(secret: string, marker: string): Promise<Sampler> {
  const dir = mkdtempSync('/tmp/fleet-sampler-');
  const out = join(dir, 'report.json');
  const stopFile = join(dir, 'stop');
  const child: ResultPromise = execa(process.execPath, ['-e', SAMPLER], {
    env: { SAMPLER_SECRET: secret, SAMPLER_MARKER: marker, SAMPLER_STOP: stopFile, SAMPLER_OUT: out }, extendEnv: false, reject: false, stdin: 'ignore',
  });
  for (let i = 0; i < 500; i++) {
    try {
      readFileSync(`${out}.ready`);
      break;
    } catch {
      await new Promise((r) => setTimeout(r, 10));
    }
  }
  return {
    async stop() {
      writeFileSync(stopFile, '');
      const r = await child;
      if (r.exitCode !== 0) throw new Error(`the argv sampler failed: ${String(r.stderr)}`);
      return JSON.parse(readFileSync(out, 'utf8')) as SamplerReport;
    },
  };
}
