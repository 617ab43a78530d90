// The agent's protocol: the numbers fleet and src/agent/agent.sh share, and every reply the agent gives, typed.
// The numbers are defined here only: scripts/gen-scripts.ts writes them as shell variables before the script.
import type { SystemState } from '../target/state.js';

/** Bumped whenever a command's arguments or a reply's fields change; every reply carries it. */
export const PROTOCOL_VERSION = 1;
/** The lock record's `v=`; records without it (fleet before it had one) are read as version 0. */
export const LOCK_RECORD_VERSION = 1;
/** Run dirs (/run/fleet/<run>/<node>) a node keeps, the newest; one still in use is never removed. */
export const RUN_DIRS_KEPT = 5;

/** The agent's own exit codes (anything else is ssh's, sudo's or the shell's). */
export const EXIT = {
  usage: 2,
  /** The run dir could not be created: nothing was started. */
  notStarted: 93,
  /** systemd-run or setsid failed: nothing was started. */
  detachFailed: 94,
  /** No run dir (a reboot cleared /run), or nothing recorded in it. */
  noRunDir: 95,
  /** The run dir holds no such action (it never started, or no watchdog was armed). */
  noAction: 96,
  /** The confirmation came after the watchdog had decided. */
  tooLate: 97,
  /** The lock is not this run's (or could not be checked): nothing was changed; stdout says whose it is. */
  lock: 99,
} as const;

export type ExitName = keyof typeof EXIT;

/** The shell variables scripts/gen-scripts.ts puts before the agent: PROTOCOL, LOCK_VERSION, RUN_DIRS_KEPT, EXIT_*. */
export function shellConstants(): string {
  const exits = Object.entries(EXIT).map(([name, code]) => `EXIT_${name.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()}=${code}`);
  return [`PROTOCOL=${PROTOCOL_VERSION}`, `LOCK_VERSION=${LOCK_RECORD_VERSION}`, `RUN_DIRS_KEPT=${RUN_DIRS_KEPT}`, ...exits].join('\n') + '\n';
}

export function exitName(code: number | undefined): ExitName | undefined {
  return (Object.keys(EXIT) as ExitName[]).find((name) => EXIT[name] === code);
}

/** A reply in another protocol (or none where one was due): an agent fleet cannot read. */
export class AgentProtocolError extends Error {
  readonly got: string | undefined;
  constructor(node: string, got: string | undefined) {
    super(`${node}: the agent answered ${got === undefined ? 'without a protocol version' : `in protocol ${got}`}; this fleet speaks ${PROTOCOL_VERSION}`);
    this.name = 'AgentProtocolError';
    this.got = got;
  }
}

/** key=value lines (the first of each key counts); the protocol line is checked, throwing AgentProtocolError. */
export function readValues(node: string, lines: readonly string[]): Map<string, string> {
  const values = new Map<string, string>();
  for (const line of lines) {
    const eq = line.indexOf('=');
    if (eq > 0 && !values.has(line.slice(0, eq))) values.set(line.slice(0, eq), line.slice(eq + 1).trim());
  }
  const got = values.get('protocol');
  if (got !== String(PROTOCOL_VERSION)) throw new AgentProtocolError(node, got);
  return values;
}

export type Action = 'activate' | 'confirm' | 'rollback';

/** A status fleet does not know (a newer or damaged agent): said as it is. */
export interface UnknownStatus {
  kind: 'unknown';
  text: string;
}

/** activate.status: how the live activation ended. */
export type ActivateStatus =
  | { kind: 'done' }
  | { kind: 'refused' } // the new system has no bin/switch-to-configuration
  | { kind: 'profile-failed'; code: number }
  | { kind: 'switch-failed'; code: number }
  | { kind: 'detach-failed' }
  | UnknownStatus;

/** confirm.status: the watchdog's verdict (magic rollback). */
export type ConfirmStatus =
  | { kind: 'done' } // confirmed (and, for switch, made the boot default)
  | { kind: 'expired' } // no confirmation in time: it rolled back (rollback.status says how)
  | { kind: 'superseded' } // fleet's explicit rollback took over
  /** It did not act: another run holds the lock now (`lock`), or the node runs another system (`replaced`). */
  | { kind: 'stood-down'; why: 'lock' | 'replaced' }
  | { kind: 'profile-failed'; code: number }
  | { kind: 'boot-failed'; code: number }
  | UnknownStatus;

/** rollback.status. */
export type RollbackStatus = { kind: 'done' } | { kind: 'failed'; why: string } | { kind: 'detach-failed' } | UnknownStatus;

export interface StatusOf {
  activate: ActivateStatus;
  confirm: ConfirmStatus;
  rollback: RollbackStatus;
}

const withCode = <K extends string>(kind: K, code: string | undefined) => (code !== undefined && /^\d+$/.test(code) ? { kind, code: Number(code) } : undefined);

export function parseActivateStatus(text: string): ActivateStatus {
  const [word = '', code] = text.split(' ');
  if (word === 'done' || word === 'refused' || word === 'detach-failed') return { kind: word };
  if (word === 'profile-failed' || word === 'switch-failed') return withCode(word, code) ?? { kind: 'unknown', text };
  return { kind: 'unknown', text };
}

export function parseConfirmStatus(text: string): ConfirmStatus {
  const [word = '', arg] = text.split(' ');
  if (word === 'done' || word === 'expired' || word === 'superseded') return { kind: word };
  if (word === 'stood-down' && (arg === 'lock' || arg === 'replaced')) return { kind: word, why: arg };
  if (word === 'profile-failed' || word === 'boot-failed') return withCode(word, arg) ?? { kind: 'unknown', text };
  return { kind: 'unknown', text };
}

export function parseRollbackStatus(text: string): RollbackStatus {
  if (text === 'done' || text === 'detach-failed') return { kind: text };
  if (text.startsWith('failed ')) return { kind: 'failed', why: text.slice('failed '.length) };
  return { kind: 'unknown', text };
}

const PARSERS: { [A in Action]: (text: string) => StatusOf[A] } = { activate: parseActivateStatus, confirm: parseConfirmStatus, rollback: parseRollbackStatus };

/** What the agent wrote about an action, and what the node runs now. */
export interface Report<S> {
  /** Absent while the action runs. */
  status?: S;
  before: SystemState;
  profileSet?: string; // the generation link this run made
  switchStarted: boolean;
  /** The watchdog's verdict once it has one (magic rollback). */
  confirmStatus?: ConfirmStatus;
  now: SystemState;
  /** Log lines streamed so far: where a reconnecting wait goes on. */
  lines: number;
}

/** The report after the token (its lines after the token line). */
export function parseReport<A extends Action>(node: string, action: A, lines: readonly string[]): Report<StatusOf[A]> {
  const values = readValues(node, lines);
  const pick = (prefix: string) => new Map([...values].filter(([k]) => k.startsWith(prefix)).map(([k, v]) => [k.slice(prefix.length), v]));
  const status = values.get('status');
  const profileSet = values.get('profileSet');
  const confirmStatus = values.get('confirmStatus');
  return {
    ...(status ? { status: PARSERS[action](status) } : {}),
    before: toSystemState(pick('before.')),
    ...(profileSet ? { profileSet } : {}),
    switchStarted: values.get('switchStarted') === '1',
    ...(confirmStatus ? { confirmStatus: parseConfirmStatus(confirmStatus) } : {}),
    now: toSystemState(pick('now.')),
    lines: Number(values.get('lines') ?? 0) || 0,
  };
}

export function generationOf(link: string | undefined): number | undefined {
  const m = link ? /-(\d+)-link$/.exec(link) : null;
  return m ? Number(m[1]) : undefined;
}

export function toSystemState(values: ReadonlyMap<string, string>): SystemState {
  const link = values.get('profileLink');
  const generation = generationOf(link);
  const current = values.get('currentSystem');
  const booted = values.get('bootedSystem');
  return {
    ...(link ? { profileLink: link } : {}),
    ...(link && values.get('profileTarget') ? { profileTarget: values.get('profileTarget') } : {}),
    ...(generation !== undefined ? { generation } : {}),
    ...(current ? { currentSystem: current } : {}),
    ...(booted ? { bootedSystem: booted } : {}),
  };
}
