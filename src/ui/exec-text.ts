// `fleet exec` as text: each output line as it comes, prefixed by its node (`web-1 | …`; a node's stdout on stdout,
// its stderr on stderr), or with --group each node's whole output as one block when it ends; waves and the summary
// (nodes grouped by how they ended) on stderr. What targets printed goes through forTerminal: it cannot drive the
// terminal.
import type { ExecGroup, ExecResult, FleetEvent } from '../events.js';
import { countOf } from '../util/text.js';
import { forTerminal } from '../util/terminal-text.js';
import { guardOutput, writeText } from './write.js';

export interface ExecTextOptions {
  /** --group: a node's output as one block once it ends. */
  group: boolean;
}

export interface ExecTextRenderer {
  onEvent(e: FleetEvent): void;
  /** Resolves once everything written has been taken by the streams. */
  finish(): Promise<void>;
}

export function createExecTextRenderer(out: NodeJS.WritableStream, err: NodeJS.WritableStream, options: ExecTextOptions): ExecTextRenderer {
  guardOutput(out);
  guardOutput(err);
  let width = 0;
  const blocks = new Map<string, string[]>();
  const pending: Promise<void>[] = [];
  const write = (stream: NodeJS.WritableStream, text: string) => void pending.push(writeText(stream, text));
  return {
    onEvent(e) {
      switch (e.type) {
        case 'exec-start':
          width = Math.max(0, ...e.nodes.map((n) => n.length));
          return;
        case 'exec-output': {
          const line = forTerminal(e.line);
          if (options.group) blocks.set(e.node, [...(blocks.get(e.node) ?? []), line]);
          else write(e.stream === 'stdout' ? out : err, `${forTerminal(e.node).padEnd(width)} | ${line}\n`);
          return;
        }
        case 'exec-done': {
          if (!options.group || e.outcome === 'skipped' || e.outcome === 'held') return;
          const lines = blocks.get(e.node) ?? [];
          blocks.delete(e.node);
          write(out, `== ${forTerminal(e.node)}: ${describeResult(e)}\n${lines.map((l) => `${l}\n`).join('')}`);
          return;
        }
        case 'wave-start':
          write(err, `fleet | wave ${e.wave}: ${e.nodes.map(forTerminal).join(', ')}\n`);
          return;
        case 'wave-done':
          write(err, `fleet | wave ${e.wave} ${e.verdict}: ${countOf(e.failures, 'failure')}\n`);
          return;
        case 'exec-summary':
          write(err, formatExecSummary(e.groups, e.nodes, e));
          return;
        default:
          return;
      }
    },
    finish: async () => {
      await Promise.all(pending);
    },
  };
}

/** `exit 0 in 0.3 s`, `timed out after 5s: ended on the node`, `unreachable: cannot connect …`. */
export function describeResult(r: ExecResult): string {
  const took = r.durationMs !== undefined ? ` in ${(r.durationMs / 1000).toFixed(1)} s` : '';
  if (r.outcome === 'ok' || (r.outcome === 'failed' && r.error === `exit ${r.exitCode}`)) return `exit ${r.exitCode}${took}`;
  return `${r.outcome}${r.error ? `: ${forTerminal(r.error)}` : ''}`;
}

/** A group's label: `exit 0`, `exit 1`, `timed out (exit 124)`, `unreachable`. */
function groupLabel(g: ExecGroup): string {
  const code = g.exitCode !== undefined ? `exit ${g.exitCode}` : '';
  if (g.outcome === 'ok' || g.outcome === 'failed') return code;
  const words = g.outcome === 'timed-out' ? 'timed out' : g.outcome;
  return code ? `${words} (${code})` : words;
}

/** The summary: one line per group with its nodes; under a group whose nodes say why (not a plain exit code), each
 *  node's reason; then the counts and the exit code. */
export function formatExecSummary(groups: readonly ExecGroup[], nodes: Readonly<Record<string, ExecResult>>, end: { exitCode: number; durationMs: number; interrupted: boolean }): string {
  const labels = groups.map(groupLabel);
  const pad = Math.max(0, ...labels.map((l) => l.length));
  const lines: string[] = [];
  for (const [i, g] of groups.entries()) {
    lines.push(`${labels[i]!.padEnd(pad)}  ${g.nodes.map(forTerminal).join(', ')}`);
    // An exit code says it all; a timeout, an unreachable node or Ctrl+C say why per node; held ones share theirs.
    if (g.outcome === 'timed-out' || g.outcome === 'unreachable' || g.outcome === 'interrupted') {
      for (const name of g.nodes) if (nodes[name]?.error) lines.push(`${' '.repeat(pad + 2)}${forTerminal(name)}: ${forTerminal(nodes[name]!.error!)}`);
    } else if (g.outcome === 'held' && nodes[g.nodes[0]!]?.error) lines.push(`${' '.repeat(pad + 2)}${forTerminal(nodes[g.nodes[0]!]!.error!)}`);
  }
  const total = Object.keys(nodes).length;
  const ok = groups.filter((g) => g.outcome === 'ok').reduce((n, g) => n + g.nodes.length, 0);
  lines.push(`${countOf(total, 'node')}: ${ok} exited 0; ${end.interrupted ? 'interrupted; ' : ''}exit code ${end.exitCode} after ${(end.durationMs / 1000).toFixed(1)} s`);
  return `\n${lines.join('\n')}\n`;
}
