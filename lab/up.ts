// One entry point for both kinds of lab: `up({ kind: 'systemd', hosts: 4 })` or `up({ hosts: ['a', 'b'] })` (light).
import { startLab, type StartLabOptions } from './light.js';
import { upSystemdLab } from './systemd/lab.js';
import type { SystemdLab, SystemdLabOptions } from './systemd/types.js';
import type { Lab } from './types.js';

export interface LightUpOptions extends Omit<StartLabOptions, 'names'> {
  kind?: 'light';
  hosts: number | string[]; // a count (hosts n1..nN) or the names
}

export type SystemdUpOptions = SystemdLabOptions & { kind: 'systemd' };

const namesOf = (hosts: number | string[]) => (typeof hosts === 'number' ? Array.from({ length: hosts }, (_v, i) => `n${i + 1}`) : hosts);

export function up(opts: SystemdUpOptions): Promise<SystemdLab>;
export function up(opts: LightUpOptions): Promise<Lab>;
export function up(opts: SystemdUpOptions | LightUpOptions): Promise<SystemdLab | Lab> {
  if (opts.kind === 'systemd') {
    const { kind: _kind, ...rest } = opts;
    return upSystemdLab(rest);
  }
  const { kind: _kind, hosts, ...rest } = opts;
  return startLab({ ...rest, names: namesOf(hosts) });
}
