// The lab from the command line: `up` leaves hosts running for a demo or by-hand testing, `down` stops them.
// Usage: npm run lab -- up --names web-1,web-2 --ports 2201,2202 --dir .lab ; npm run lab -- down .lab
//        npm run lab -- up --kind systemd --hosts 4 [--dir DIR]   (systemd hosts: see ../shared/LAB.md)
import { Command, InvalidArgumentError, Option } from 'commander';
import { downLab, readLabStatus, readSystemdManifest, startLab, up as upLab, writeHive } from '../lab/index.js';
import { findPid1 } from '../lab/systemd/host.js';

function parseList(value: string): string[] {
  return value.split(',').map((v) => v.trim()).filter((v) => v !== '');
}

function parsePorts(value: string): number[] {
  const ports = parseList(value).map(Number);
  if (ports.some((p) => !Number.isInteger(p) || p < 1 || p > 65535)) throw new InvalidArgumentError('ports are integers 1-65535');
  return ports;
}

function parseCount(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 200) throw new InvalidArgumentError('count is an integer 1-200');
  return n;
}

interface UpOptions {
  kind: 'light' | 'systemd';
  count?: number;
  hosts?: number;
  names?: string[];
  dir?: string;
  ports?: number[];
}

async function upSystemd(opts: UpOptions): Promise<void> {
  if (opts.ports) throw new InvalidArgumentError('--ports is for light hosts (systemd hosts listen on 22 and 2200 at their own addresses)');
  const hosts = opts.names ?? opts.hosts ?? opts.count ?? 4;
  const lab = await upLab({ kind: 'systemd', hosts, detach: true, ...(opts.dir ? { dir: opts.dir } : {}) });
  const t = lab.timings;
  console.log(`systemd lab ${lab.id} up in ${t.upMs} ms (root fs ${t.rootfsBuilt ? `built in ${t.rootfsMs} ms` : 'cached'})`);
  const names = lab.hosts.map((h) => h.name);
  const hive = await writeHive(`${lab.dir}/hive.nix`, Object.fromEntries(names.map((n) => [n, { name: `lab-${n}` }])), lab.witness);
  const fleetFile = await lab.writeFleet({ nixFile: hive });
  console.log(`dir         ${lab.dir}`);
  console.log(`ssh_config  ${lab.sshConfig}   (aliases: <host>, <host>-v6, <host>-deploy, <host>-deploy-pw, <host>-delayed)`);
  console.log(`witness     ${lab.witness}`);
  console.log(`this side   ${lab.subnet.uplink}  ${lab.subnet.gateway4}  ${lab.subnet.gateway6}`);
  for (const h of lab.hosts) console.log(`host        ${h.name}  ${h.v4}  [${h.v6}]  ssh ports 22, ${h.altPort}  systemd pid ${lab.pid1(h.name) ?? '?'}`);
  console.log(`users       root, ${lab.users.deploy} (sudo without password), ${lab.users.deployPw} (sudo password: ${lab.sudoPassword})`);
  console.log(`fleet file  ${fleetFile}`);
  console.log(`try:        ssh -F ${lab.sshConfig} ${names[0]}-v6 systemctl is-system-running`);
  console.log(`            NIX_CONFIG='substituters =' node bin/fleet.js -f ${fleetFile} apply`);
  console.log(`            journalctl inside a host: ssh -F ${lab.sshConfig} ${names[0]} journalctl -u 'fleet-switch-*'`);
  console.log(`stop:       npm run lab -- down ${lab.dir}`);
}

async function up(opts: UpOptions): Promise<void> {
  if (opts.kind === 'systemd') return upSystemd(opts);
  if (opts.hosts !== undefined && opts.count === undefined) opts.count = opts.hosts;
  const names = opts.names ?? Array.from({ length: opts.count ?? 3 }, (_v, i) => `host-${i + 1}`);
  const started = Date.now();
  const lab = await startLab({ names, detach: true, ...(opts.dir ? { dir: opts.dir } : {}), ...(opts.ports ? { ports: opts.ports } : {}) });
  console.log(`lab up in ${Date.now() - started} ms`);
  // A fleet for exactly these hosts: one stand-in system each, ready for `fleet apply`.
  const hive = await writeHive(`${lab.dir}/hive.nix`, Object.fromEntries(names.map((n) => [n, { name: `lab-${n}` }])), lab.witness);
  const fleetFile = await lab.writeFleet({ nixFile: hive });
  console.log(`dir         ${lab.dir}`);
  console.log(`ssh_config  ${lab.sshConfig}`);
  console.log(`witness     ${lab.witness}`);
  for (const h of lab.hosts) console.log(`host        ${h.name}  127.0.0.1:${h.port}  pid ${h.pid}  sshd ${h.sshdPid}`);
  console.log(`fleet file  ${fleetFile}`);
  console.log(`try:        ssh -F ${lab.sshConfig} ${lab.hosts[0]?.name ?? ''} hostname`);
  console.log(`            NIX_CONFIG='substituters =' node bin/fleet.js -f ${fleetFile} apply`);
  console.log(`stop:       npm run lab -- down ${lab.dir}`);
}

async function status(dir: string): Promise<void> {
  const systemd = await readSystemdManifest(dir);
  if (systemd) {
    console.log(`dir         ${systemd.dir}  (systemd lab ${systemd.id})\nssh_config  ${systemd.sshConfig}`);
    const running = systemd.hosts.map((h) => ({ ...h, pid1: findPid1(systemd.cgroup, h.name) }));
    for (const h of running) console.log(`host        ${h.name}  ${h.v4}  [${h.v6}]  ${h.pid1 ? `running (systemd pid ${h.pid1})` : 'stopped'}`);
    if (running.some((h) => !h.pid1)) process.exitCode = 1;
    return;
  }
  const { manifest, hosts } = await readLabStatus(dir);
  console.log(`dir         ${manifest.dir}\nssh_config  ${manifest.sshConfig}`);
  for (const h of hosts) console.log(`host        ${h.name}  127.0.0.1:${h.port}  ${h.running ? `running (pids ${h.pids.join(' ')})` : 'stopped'}`);
  if (hosts.some((h) => !h.running)) process.exitCode = 1;
}

async function down(dir: string): Promise<void> {
  const stopped = await downLab(dir);
  console.log(stopped.length > 0 ? `stopped ${stopped.join(', ')}` : 'nothing was running');
}

const program = new Command('lab').description('real SSH + Nix test hosts on this machine (see LAB.md)');
program
  .command('up')
  .description('start lab hosts and leave them running')
  .addOption(new Option('--kind <kind>', 'light: bare sshd on 127.0.0.1; systemd: systemd-nspawn hosts with nix-daemon, users, own addresses').choices(['light', 'systemd']).default('light'))
  .option('--count <n>', 'number of hosts (light: host-1..host-N)', parseCount)
  .option('--hosts <n>', 'number of hosts (systemd: n1..nN, default 4)', parseCount)
  .option('--names <a,b,c>', 'host names', parseList)
  .option('--dir <dir>', 'lab directory (default: a fresh /tmp/fl-XXXXXX)')
  .option('--ports <p1,p2,...>', 'fixed ports, one per host', parsePorts)
  .action(up);
program.command('down').argument('<dir>', 'lab directory').description('stop every process of the lab').action(down);
program.command('status').argument('<dir>', 'lab directory').description('show the lab hosts and whether they run').action(status);

program.parseAsync(process.argv).catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : String(error));
  process.exit(1);
});
