// Deploy records: what fleet put on a target, kept on the target itself (`<stateDir>/records`, one JSON
// object per line, newest last) so `fleet status` can say which commit runs where without a state database.
import type { Goal } from '../goal.js';
import type { SystemState } from '../target/state.js';
import { GOALS } from '../goal.js';

/** How many records a target keeps (the agent drops the oldest). */
export const RECORDS_KEPT = 50;

export const RECORD_VERSION = 1;

/** deploy: a verified (and confirmed) activation; rollback: fleet put an activated node back. */
export type RecordKind = 'deploy' | 'rollback';

/** The git revision of the repository holding the fleet file; `unknown` without git or outside a repository. */
export interface GitRevision {
  rev: string;
  /** Tracked files differ from `rev` (as Nix's dirty flakes and `git describe --dirty`); absent when unknown. */
  dirty?: boolean;
}

/** What every record of one run shares: computed once per run on the deployer. */
export interface RecordContext {
  run: string;
  by: string; // user@host of the deployer
  on: string; // the --on text, or "all"
  message?: string; // --message
  fleetVersion: string;
  git: GitRevision;
}

export interface DeployRecord {
  v: typeof RECORD_VERSION;
  kind: RecordKind;
  run: string;
  time: string; // ISO 8601, the deployer's clock
  goal: Goal;
  profile: string;
  /** The system fleet left the node on: the new one (deploy), or the one it went back to (rollback). */
  toplevel: string;
  profileLink?: string; // the profile's generation link afterwards, e.g. system-5-link
  generation?: number;
  /** What the node ran before this record's change (the agent's record of it). */
  before?: SystemState;
  fleetVersion: string;
  by: string;
  on: string;
  message?: string;
  rev: string;
  dirty?: boolean;
}

const pick = (s: SystemState): SystemState => ({
  ...(s.profileLink !== undefined ? { profileLink: s.profileLink } : {}),
  ...(s.generation !== undefined ? { generation: s.generation } : {}),
  ...(s.profileTarget !== undefined ? { profileTarget: s.profileTarget } : {}),
  ...(s.currentSystem !== undefined ? { currentSystem: s.currentSystem } : {}),
});

/** The system a goal leaves in charge (or, before a deploy, has in charge): the profile's for boot, the running
 *  one otherwise, each falling back to the other. Undefined: nothing installed, or no state read. */
export function systemOf(goal: Goal, state: SystemState | undefined): string | undefined {
  if (!state) return undefined;
  return goal === 'boot' ? (state.profileTarget ?? state.currentSystem) : (state.currentSystem ?? state.profileTarget);
}

export interface RecordInput {
  kind: RecordKind;
  goal: Goal;
  profile: string;
  toplevel: string;
  now: SystemState; // verified after the change
  before?: SystemState;
  time: Date;
}

export function makeRecord(ctx: RecordContext, input: RecordInput): DeployRecord {
  return {
    v: RECORD_VERSION,
    kind: input.kind,
    run: ctx.run,
    time: input.time.toISOString(),
    goal: input.goal,
    profile: input.profile,
    toplevel: input.toplevel,
    ...(input.now.profileLink !== undefined ? { profileLink: input.now.profileLink } : {}),
    ...(input.now.generation !== undefined ? { generation: input.now.generation } : {}),
    ...(input.before ? { before: pick(input.before) } : {}),
    fleetVersion: ctx.fleetVersion,
    by: ctx.by,
    on: ctx.on,
    ...(ctx.message !== undefined ? { message: ctx.message } : {}),
    rev: ctx.git.rev,
    ...(ctx.git.dirty !== undefined ? { dirty: ctx.git.dirty } : {}),
  };
}

/** One line: JSON.stringify escapes every newline inside strings, so a record never spans two. */
export function recordLine(record: DeployRecord): string {
  return JSON.stringify(record);
}

const isString = (v: unknown): v is string => typeof v === 'string';
const optional = (v: unknown, test: (x: unknown) => boolean) => v === undefined || test(v);

function isSystemState(v: unknown): boolean {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const s = v as Record<string, unknown>;
  return ['profileLink', 'profileTarget', 'currentSystem', 'bootedSystem'].every((k) => optional(s[k], isString)) && optional(s.generation, Number.isInteger);
}

/** One record line, or undefined when it is not one (a line from a newer fleet, or damaged). */
export function parseRecord(line: string): DeployRecord | undefined {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const r = value as Record<string, unknown>;
  const ok = r.v === RECORD_VERSION
    && (r.kind === 'deploy' || r.kind === 'rollback')
    && [r.run, r.time, r.profile, r.fleetVersion, r.by, r.on, r.rev].every(isString)
    && isString(r.toplevel) && r.toplevel.startsWith('/')
    && isString(r.goal) && (GOALS as readonly string[]).includes(r.goal)
    && optional(r.profileLink, isString) && optional(r.generation, Number.isInteger) && optional(r.message, isString)
    && optional(r.dirty, (d) => typeof d === 'boolean') && optional(r.before, isSystemState);
  return ok ? (value as DeployRecord) : undefined;
}

/** Where a record starts: JSON.stringify writes `v` first and escapes every quote inside strings, so this
 *  text occurs nowhere else in a record line. */
const RECORD_START = `{"v":${RECORD_VERSION},`;

/**
 * One line of the records file: a record, or the record an older agent appended onto a line that was cut short
 * (it did not start a new line): the cut part is unreadable, the whole record after it is read.
 */
function parseRecordText(text: string): { record?: DeployRecord; unreadable: number } {
  const record = parseRecord(text);
  if (record) return { record, unreadable: 0 };
  for (let at = text.indexOf(RECORD_START, 1); at > 0; at = text.indexOf(RECORD_START, at + 1)) {
    const after = parseRecord(text.slice(at));
    if (after) return { record: after, unreadable: 1 };
  }
  return { unreadable: 1 };
}

/** The agent's `record=` lines, oldest first; `unreadable` counts lines (or cut parts of one) that are not records. */
export function parseRecordLines(stdout: string): { records: DeployRecord[]; unreadable: number } {
  const records: DeployRecord[] = [];
  let unreadable = 0;
  for (const line of stdout.split('\n')) {
    if (!line.startsWith('record=')) continue;
    const parsed = parseRecordText(line.slice('record='.length));
    if (parsed.record) records.push(parsed.record);
    unreadable += parsed.unreadable;
  }
  return { records, unreadable };
}
