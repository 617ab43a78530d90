// Each benchmark writes bench/results/<name>.json and its own row of the summary table in BENCHMARKS.md.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { execa } from 'execa';
import { REPO } from './fleet.js';
import { describeMachine, formatMachine, type Machine } from './machine.js';

export const ORDER = ['fleet-16', 'fleet-100', 'noop-16', 'magic-16', 'status-16', 'rollout-16', 'eval-64', 'eval-scale', 'plan-10k', 'startup', 'cache-fanout'] as const;
export type BenchName = (typeof ORDER)[number];

export interface Target {
  what: string; // e.g. "fleet ≥ 5× faster than sequential"
  measured: string;
  met: boolean;
}

export interface SummaryRow {
  result: string; // the headline numbers, median [min–max]
  targets: Target[];
}

const START = '<!-- bench:summary:start -->';
const END = '<!-- bench:summary:end -->';
const HEADER = ['| benchmark | result: median [min–max] | targets | met | machine | date | commit | Nix |', '|---|---|---|---|---|---|---|---|'];
/** Rows written before the commit column existed: their commit was not recorded. */
const NOT_RECORDED = 'not recorded';

/** The commit measured: a row is only comparable with the code it ran; `+changes` when the code differed from it (the benchmarks' own results do not count). */
export async function describeCommit(): Promise<string> {
  const head = await execa('git', ['rev-parse', '--short', 'HEAD'], { cwd: REPO, reject: false });
  if (head.failed) return 'unknown (not a git checkout)';
  const dirty = await execa('git', ['status', '--porcelain', '--untracked-files=no', '--', 'src', 'bin', 'nix', 'bench', ':(exclude)bench/results', 'lab', 'package.json'], { cwd: REPO, reject: false });
  return `${head.stdout.trim()}${dirty.stdout.trim() ? '+changes' : ''}`;
}

export async function writeResult(name: BenchName, data: object, row: SummaryRow): Promise<string> {
  const machine = await describeMachine();
  const date = new Date().toISOString();
  const commit = await describeCommit();
  const path = `${REPO}bench/results/${name}.json`;
  await mkdir(`${REPO}bench/results`, { recursive: true });
  await writeFile(path, `${JSON.stringify({ name, date, commit, machine, targets: row.targets, ...data }, null, 2)}\n`);
  await updateSummary(name, row, machine, date, commit);
  return path;
}

function cell(text: string): string {
  return text.replaceAll('|', '\\|').replaceAll('\n', ' ');
}

function renderRow(name: string, row: SummaryRow, machine: Machine, date: string, commit: string): string {
  const targets = row.targets.map((t) => `${t.what}: ${t.measured}`).join('; ');
  const met = row.targets.every((t) => t.met) ? 'yes' : `no (${row.targets.filter((t) => !t.met).length}/${row.targets.length} missed)`;
  const nix = machine.nix.replace(/^nix \(Nix\) /, '');
  return `| ${[name, row.result, targets, met, formatMachine(machine), date.slice(0, 16).replace('T', ' ') + 'Z', commit, nix].map(cell).join(' | ')} |`;
}

/** Replaces this benchmark's row (or adds it) between the markers, keeping ORDER. */
export async function updateSummary(name: BenchName, row: SummaryRow, machine: Machine, date: string, commit: string): Promise<void> {
  const path = `${REPO}BENCHMARKS.md`;
  const text = await readFile(path, 'utf8');
  const start = text.indexOf(START);
  const end = text.indexOf(END);
  if (start < 0 || end < start) throw new Error(`${path}: summary markers ${START} … ${END} not found`);
  const rows = new Map<string, string>();
  for (const line of text.slice(start + START.length, end).split('\n')) {
    const first = /^\|\s*([\w-]+)\s*\|/.exec(line)?.[1];
    if (first && (ORDER as readonly string[]).includes(first)) rows.set(first, withCommitCell(line));
  }
  rows.set(name, renderRow(name, row, machine, date, commit));
  const body = ORDER.filter((n) => rows.has(n)).map((n) => rows.get(n)!);
  await writeFile(path, `${text.slice(0, start)}${START}\n${[...HEADER, ...body].join('\n')}\n${text.slice(end)}`);
}

/** A row of the 7-column table (no commit cell) gets one, saying its commit was not recorded. */
function withCommitCell(line: string): string {
  const cells = line.split(/(?<!\\)\|/);
  // '| a | … | g |' splits into 9 parts (empty first and last): 7 cells, the last one Nix.
  if (cells.length !== 9) return line;
  cells.splice(7, 0, ` ${NOT_RECORDED} `);
  return cells.join('|');
}

/** "x≥5: 6.1× → met" helper: a target as measured. */
export function target(what: string, measured: string, met: boolean): Target {
  return { what, measured, met };
}
