// What the numbers were measured on: they mean nothing without the machine, the date and the versions.
import { readFile } from 'node:fs/promises';
import { execa } from 'execa';
import { NIX_ENV } from './fleet.js';

export interface Machine {
  nproc: number;
  memoryMB: number;
  cpu: string;
  kernel: string;
  node: string;
  nix: string;
}

async function readMemoryMB(): Promise<number> {
  const meminfo = await readFile('/proc/meminfo', 'utf8');
  const kb = Number(/^MemTotal:\s+(\d+)/m.exec(meminfo)?.[1] ?? 0);
  return Math.round(kb / 1024);
}

async function readCpuModel(): Promise<string> {
  const cpuinfo = await readFile('/proc/cpuinfo', 'utf8');
  return /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1]?.trim() ?? 'unknown';
}

export async function describeMachine(): Promise<Machine> {
  const [nproc, kernel, nix] = await Promise.all([
    execa('nproc').then((r) => Number(r.stdout.trim())),
    execa('uname', ['-r']).then((r) => r.stdout.trim()),
    execa('nix', ['--version'], { env: NIX_ENV }).then((r) => r.stdout.trim()),
  ]);
  return { nproc, memoryMB: await readMemoryMB(), cpu: await readCpuModel(), kernel, node: process.version, nix };
}

/** Short form for the summary table. */
export function formatMachine(m: Machine): string {
  return `${m.nproc} cores, ${(m.memoryMB / 1024).toFixed(0)} GB, ${m.cpu}`;
}
