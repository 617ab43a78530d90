// The public shape of a systemd lab: hosts that behave like production targets (see ../../../shared/LAB.md).
import type { ExecResult, LabCommon } from '../types.js';
import type { HostAddresses } from './config-files.js';
import type { Shape } from './net.js';

export type { Shape } from './net.js';

export interface SystemdLabOptions {
  hosts: number | string[]; // a count (hosts n1..nN) or the names
  dir?: string; // default: a fresh short dir under /tmp (ssh control sockets are limited to 108 bytes)
  detach?: boolean; // leave the hosts running after this process exits (scripts/lab.ts up)
  readyTimeoutMs?: number; // per host, until its sshd accepts a login; default 60 s
  /** nix.conf trusted-users per host name; default root deploy deploy-pw. */
  trustedUsers?: Record<string, string[]>;
}

export interface SystemdLabHost extends HostAddresses {
  dir: string; // <lab>/<name>: upper layer, /nix, identity, console.log
  index: number; // 1-based; the host's bridge port is p<index>
  port: 22; // sshd also listens on altPort
  altPort: number;
  /** ssh_config aliases: root over v4 and v6, the deploy users over v4, root through the delay relay. */
  aliases: { v4: string; v6: string; deploy: string; deployPw: string; delayed: string };
}

export interface SystemdLab extends LabCommon {
  kind: 'systemd';
  id: string; // unique on this machine: cgroup fleet-lab/<id>, nspawn machine names <id>-<host>
  hosts: SystemdLabHost[];
  /** This machine's side of the lab: 198.18.K.1 and fd66:6c65:K::1 on the uplink interface. */
  subnet: { k: number; uplink: string; gateway4: string; gateway6: string };
  users: { deploy: string; deployPw: string };
  sudoPassword: string; // deploy-pw's password (random per lab): sudo asks for it
  timings: { rootfsMs: number; rootfsBuilt: boolean; upMs: number };
  /** Runs argv inside the host: all of its namespaces via nsenter (not ssh); input goes to stdin. */
  exec(host: string, argv: string[], opts?: { input?: string }): Promise<ExecResult>;
  /** ssh -F <lab ssh_config> <target> -- argv (quoted for the remote shell); target: a host name, an alias (n1-v6, n1-deploy...) or an address. */
  ssh(target: string, argv: string[], extraSshArgs?: string[]): Promise<ExecResult>;
  /** Resolves once target accepts an SSH login (the login is not counted by handshakes()). */
  waitSsh(target: string, timeoutMs?: number): Promise<void>;
  /** `systemctl reboot` inside the host; resolves once the new boot accepts SSH (current system = boot entry). */
  reboot(host: string, opts?: { timeoutMs?: number }): Promise<void>;
  /** The host takes its own link down (from inside, as a bad switch would); back up after seconds, or at restore(). */
  cut(host: string, seconds?: number): Promise<void>;
  /** Ends a cut: the host's link is up again when this resolves. */
  restore(host: string): Promise<void>;
  /** Rate limit (tbf, both directions) and/or delay (relay on port 2222, alias <host>-delayed); {} removes both. */
  shape(host: string, shape: Shape): Promise<void>;
  /** `tc qdisc show` of the host's bridge port and its ifb, one line each prefixed with the device: to check shaping. */
  qdiscs(host: string): Promise<string>;
  /** The host's systemd as seen from this machine, or undefined while it is down. */
  pid1(host: string): number | undefined;
}
