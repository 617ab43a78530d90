// `fleet doctor`: the deployer, every selected node and every builder they use, checked read-only and in parallel;
// per machine one SSH handshake and one session (src/doctor/examine.ts). Reports come out in a fixed order
// (deployer, nodes in fleet-file order, builders), each as soon as it and the ones before it are done.
import { basename } from 'node:path';
import pLimit from 'p-limit';
import { lockPath } from '../agent/lock.js';
import { privileged } from '../transport/target.js';
import type { ResolvedFleet, ResolvedNode } from '../config/types.js';
import { ExitCode } from '../errors.js';
import type { EmitEvent } from '../events.js';
import type { HostPool } from '../transport/pool.js';
import { failureReason, type RunCommand } from '../transport/run.js';
import { fleetVersion } from '../version.js';
import { deployerNixCheck, featuresCheck, storeCheck, systemsCheck, trustedCheck } from './checks-nix.js';
import { diskCheck } from './checks-target.js';
import { examineHost, ROLE_CHECKS, type Examination, type Examined, type ExamineContext } from './examine.js';
import { doctorArgv, parseGathered } from './script.js';
import { doctorSubjects, usesNixBuilders, type BuilderSubject, type Subject } from './subjects.js';
import { countChecks, fail, skip, type CheckName, type CheckResult, type DoctorHost, type HostReport } from './types.js';

/** Machines examined at once: each costs a few local processes (ssh -G, the master, the session). */
const AT_ONCE = 32;

export interface DoctorOptions {
  pool: HostPool;
  run: RunCommand; // the deployer's commands
  emit: EmitEvent;
  signal: AbortSignal;
  /** No --on: every builder of the fleet file is examined, used or not. */
  all: boolean;
  sudoPassword?: string;
  /** Each machine's report, in order, as soon as it is complete. */
  onReport?: (report: HostReport) => void;
}

export interface DoctorResult {
  reports: HostReport[];
  exitCode: number;
}

export function doctorExitCode(reports: readonly HostReport[], interrupted: boolean): number {
  if (interrupted) return ExitCode.interrupted;
  return reports.some((r) => r.checks.some((c) => c.status === 'fail')) ? ExitCode.nodesFailed : ExitCode.ok;
}

export async function doctorFleet(fleet: ResolvedFleet, nodes: readonly ResolvedNode[], options: DoctorOptions): Promise<DoctorResult> {
  const started = Date.now();
  const subjects = doctorSubjects(fleet, nodes, options.all);
  const deployerHost: DoctorHost = { name: 'deployer', role: 'deployer', address: 'local' };
  options.emit({ type: 'doctor-start', hosts: [deployerHost, ...subjects.map(({ name, role, address }) => ({ name, role, address }))], fleetVersion: fleetVersion() });

  const deployer = examineDeployer(options, 'flake' in fleet.nix, usesNixBuilders(nodes));
  const ctx: ExamineContext = {
    run: options.run,
    privateDir: options.pool.privateDir,
    signal: options.signal,
    deployerVersion: deployer.then((d) => d.version),
    passwordGiven: options.sudoPassword !== undefined,
  };
  const limit = pLimit(AT_ONCE);
  const examined = new Map(subjects.map((s) => [s, limit(() => examineHost(examinationOf(s, options), ctx))]));
  // What each node is built for: its `system`, else what its own Nix said it is.
  const systemOf = async (node: ResolvedNode): Promise<string | undefined> => {
    if (node.system) return node.system;
    const subject = subjects.find((s) => s.role === 'node' && s.name === node.name);
    return subject ? (await examined.get(subject))?.gathered?.conf.get('system') : undefined;
  };
  const reportOf = async (s: Subject): Promise<HostReport> => {
    const e = await examined.get(s)!;
    const checks = s.role === 'builder' ? await withBuilderChecks(s, e, systemOf) : e.checks;
    return { name: s.name, role: s.role, address: s.address, checks };
  };

  const pending = [deployer.then((d) => d.report), ...subjects.map(reportOf)];
  const reports: HostReport[] = [];
  for (const next of pending) {
    const report = await next;
    reports.push(report);
    for (const c of report.checks) options.emit({ type: 'doctor-check', host: report.name, role: report.role, ...c });
    options.onReport?.(report);
  }
  const interrupted = options.signal.aborted;
  const exitCode = doctorExitCode(reports, interrupted);
  options.emit({ type: 'doctor-summary', exitCode, durationMs: Date.now() - started, interrupted, checks: countChecks(reports) });
  return { reports, exitCode };
}

function examinationOf(s: Subject, options: DoctorOptions): Examination {
  if (s.role === 'node') {
    const n = s.node;
    const escalation = escalationProbe(n, options.sudoPassword);
    return {
      name: s.name, role: 'node', host: options.pool.forNode(n), connectTimeoutMs: n.connectTimeoutMs,
      node: { user: n.user, lockFile: lockPath(n.profile), escalationText: n.privilegeEscalation, ...escalation },
    };
  }
  if (s.builder) {
    const b = s.builder;
    return { name: s.name, role: 'builder', host: options.pool.forBuilder(b), connectTimeoutMs: b.connectTimeoutMs, ...(b.publicHostKey ? { pinnedBy: b.name } : {}) };
  }
  return { name: s.name, role: 'builder', host: options.pool.forSpec(s.spec!, s.via!), connectTimeoutMs: s.via!.connectTimeoutMs };
}

/** How doctor tries the node's privilege escalation: as fleet would with the password given, else never asking
 *  (`sudo -n`/`doas -n`), so a prompt shows as a failure instead of a wait. */
export function escalationProbe(node: Pick<ResolvedNode, 'user' | 'privilegeEscalation'>, password?: string): { escalation?: string[]; input?: string } {
  if (node.user === 'root') return {};
  if (password !== undefined) {
    const p = privileged(node, [], password);
    return { escalation: p.argv, ...(p.input !== undefined ? { input: p.input } : {}) };
  }
  const [tool, ...rest] = node.privilegeEscalation;
  if (tool && ['sudo', 'doas'].includes(basename(tool))) return { escalation: [tool, '-n', ...rest] };
  return { escalation: [...node.privilegeEscalation] };
}

const BUILDER_ORDER: readonly CheckName[] = [...ROLE_CHECKS.builder.slice(0, -1), 'systems', 'features', 'disk-nix'];

/** A builder's systems and features, once the nodes it builds for have said what they are. */
async function withBuilderChecks(s: BuilderSubject, e: Examined, systemOf: (node: ResolvedNode) => Promise<string | undefined>): Promise<CheckResult[]> {
  const extra: CheckResult[] = [];
  if (e.gathered) {
    const needed = await Promise.all(s.nodes.map(async (n) => ({ node: n.name, system: await systemOf(n) })));
    extra.push(systemsCheck({ name: s.name, ...(s.builder ? { declared: s.builder.systems } : {}), needed }, e.gathered));
    if (s.builder) extra.push(featuresCheck(s.name, s.builder.supportedFeatures, s.builder.mandatoryFeatures, e.gathered));
  } else {
    extra.push(skip('systems', 'no session'));
    if (s.builder) extra.push(skip('features', 'no session'));
  }
  const all = new Map([...e.checks, ...extra].map((c) => [c.check, c]));
  return BUILDER_ORDER.flatMap((name) => all.get(name) ?? []);
}

/** The deployer runs the same script locally: its Nix, its store, its trust (for `buildHost: builders`), its /nix. */
async function examineDeployer(options: DoctorOptions, flake: boolean, nixBuilders: boolean): Promise<{ report: HostReport; version?: string }> {
  const host = { name: 'deployer', role: 'deployer' as const, address: 'local' };
  const r = await options.run(doctorArgv(''), { timeoutMs: 60_000, signal: options.signal });
  const g = r.failed ? undefined : parseGathered(r.stdout);
  if (!g?.complete) {
    return { report: { ...host, checks: [fail('nix', `the checks could not run on this machine: ${failureReason(r)}`, 'run fleet doctor again; sh and the usual tools must be on this machine\'s PATH')] } };
  }
  const here = 'this machine';
  const checks = [
    deployerNixCheck(g, flake),
    storeCheck(here, g),
    nixBuilders ? trustedCheck(here, 'deployer', g) : skip('trusted', 'no selected node builds with buildHost: builders (only then does the deployer\'s Nix need to be trusted)'),
    diskCheck(here, 'nix', g.disk.nix),
  ];
  return { report: { ...host, checks }, ...(g.nixVersion ? { version: g.nixVersion } : {}) };
}
