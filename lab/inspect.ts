// Reading lab hosts from outside (nsenter, not fleet's ssh): what tests and benchmarks check fleet against.
import { readFile } from 'node:fs/promises';
import { execa } from 'execa';
import { labNixEnv } from './config-files.js';
import { writeHive, type StandInSpec } from './hive.js';
import type { LabCommon } from './types.js';

export const PROFILE = '/nix/var/nix/profiles/system';

export interface SystemState {
  current?: string; // readlink /run/current-system
  link?: string; // readlink of the profile: system-N-link
  profile?: string; // readlink -f of the profile: the store path it boots
}

export async function readSystemState(lab: Pick<LabCommon, 'exec'>, host: string): Promise<SystemState> {
  const read = async (argv: string[]) => (await lab.exec(host, argv)).stdout.trim() || undefined;
  const [current, link, profile] = await Promise.all([read(['readlink', '/run/current-system']), read(['readlink', PROFILE]), read(['readlink', '-f', PROFILE])]);
  return { current, link, profile };
}

/** How many generations the system profile has (its system-N-link entries): unchanged means the profile never moved. */
export async function countGenerations(lab: Pick<LabCommon, 'exec'>, host: string): Promise<number> {
  return Number((await lab.exec(host, ['sh', '-c', 'ls /nix/var/nix/profiles | grep -c "^system-.*-link$"'])).stdout.trim());
}

/** The stand-in systems' activation log on a host: one "<goal> <out path>" line per switch-to-configuration run. */
export async function readActivations(lab: Pick<LabCommon, 'exec'>, host: string): Promise<string[]> {
  return (await lab.exec(host, ['cat', '/nix/var/fleet-lab/activation.log'])).stdout.split('\n').filter(Boolean);
}

/** Everything a deploy would change on a host: running system, profile, generations, activations (equal: untouched). */
export async function snapshotHost(lab: Pick<LabCommon, 'exec'>, host: string): Promise<SystemState & { generations: number; activations: string[] }> {
  return { ...(await readSystemState(lab, host)), generations: await countGenerations(lab, host), activations: await readActivations(lab, host) };
}

/** What is in the host's lock directory, one entry a line ('' when empty): a run holds its nodes' locks there, none may stay after it. */
export async function readLocks(lab: Pick<LabCommon, 'exec'>, host: string): Promise<string> {
  return (await lab.exec(host, ['sh', '-c', 'ls -A /run/fleet/locks 2>/dev/null || true'])).stdout.trim();
}

/** One line per real build: "<host name> <system name>". */
export async function readWitness(lab: Pick<LabCommon, 'witness'>): Promise<string[]> {
  return (await readFile(lab.witness, 'utf8')).split('\n').filter(Boolean);
}

/** Systemd lab hosts: the system whose www the running fleet-lab-web serves, or the unit's state when it does not run. */
export async function readWebService(lab: Pick<LabCommon, 'exec'>, host: string): Promise<string> {
  const read = async (argv: string[]) => (await lab.exec(host, argv)).stdout.trim();
  const state = await read(['systemctl', 'is-active', 'fleet-lab-web']);
  if (state !== 'active') return state;
  const exec = await read(['systemctl', 'show', '-P', 'ExecStart', 'fleet-lab-web']);
  return /(\/nix\/store\/[^/\s]+)\/www/.exec(exec)?.[1] ?? `unexpected ExecStart: ${exec}`;
}

/** A stand-in system from a one-node hive in the lab dir: its .drv and out paths (instantiated, nothing built). */
export async function instantiateStandIn(lab: Pick<LabCommon, 'dir' | 'witness'>, spec: StandInSpec): Promise<{ drv: string; out: string }> {
  const hive = await writeHive(`${lab.dir}/hive-${spec.name}.nix`, { node: spec }, lab.witness);
  const drv = (await execa('nix-instantiate', [hive, '-A', 'node'], { env: labNixEnv })).stdout.trim();
  const out = (await execa('nix-store', ['-q', '--outputs', drv], { env: labNixEnv })).stdout.trim();
  return { drv, out };
}

/** Every node's toplevel out path, evaluated read-only (no .drv written, nothing built). */
export async function evalOutPaths(hive: string): Promise<Record<string, string>> {
  const expr = `builtins.mapAttrs (_n: d: d.outPath) (import ${JSON.stringify(hive)})`;
  const r = await execa('nix-instantiate', ['--eval', '--strict', '--json', '-E', expr], { env: labNixEnv });
  return JSON.parse(r.stdout) as Record<string, string>;
}
