// The `fleet status` table as ink draws it, from one refresh's run view: the same columns, reasons and count
// line as the text table (src/status/format.ts), with the states in colour and the nodes that could not be asked.
import { Box, Text } from 'ink';
import type { NodeState, NodeStatus } from '../../status/classify.js';
import { countLine, reasonOf, STATUS_HEADER, statusRow } from '../../status/format.js';
import { errorLines, oneLine } from '../../util/terminal-text.js';
import type { RunView } from '../view.js';

const STATE_COLOR: Record<NodeState, string> = {
  'in-sync': 'green', outdated: 'yellow', drifted: 'magenta', 'pending-reboot': 'cyan', 'keys-missing': 'yellow', 'keys-outdated': 'yellow', unreachable: 'red', locked: 'blue',
};

/** The statuses of a refresh, in its nodes' order, and the nodes it could not evaluate with why. */
export function refreshResult(view: RunView): { statuses: NodeStatus[]; errors: { node: string; error: string }[] } {
  const statuses = view.nodes.flatMap((n) => (n.status ? [n.status] : []));
  const errors = view.nodes.flatMap((n) => (!n.status && n.outcome === 'failed' ? [{ node: n.name, error: n.error ?? 'failed' }] : []));
  return { statuses, errors };
}

export function StatusTable({ view }: { view: RunView }) {
  const { statuses, errors } = refreshResult(view);
  const rows = statuses.map(statusRow);
  const widths = STATUS_HEADER.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const pad = (cell: string, i: number) => (i === STATUS_HEADER.length - 1 ? cell : `${cell.padEnd(widths[i]!)}  `);
  const why = statuses.filter((s) => s.state !== 'in-sync');
  return (
    <Box flexDirection="column">
      {statuses.length === 0 ? <Text>no node could be asked</Text> : (
        <>
          <Text bold wrap="truncate-end">{STATUS_HEADER.map(pad).join('').trimEnd()}</Text>
          {rows.map((r, k) => (
            <Text key={r[0]} wrap="truncate-end">
              {pad(r[0], 0)}
              <Text color={STATE_COLOR[statuses[k]!.state]}>{pad(r[1], 1)}</Text>
              {r.slice(2).map((c, i) => pad(c, i + 2)).join('').trimEnd()}
            </Text>
          ))}
        </>
      )}
      {why.length > 0 && (
        <Box flexDirection="column" marginTop={1}>
          {why.map((s) => (
            <Text key={s.node}>{s.node}: <Text color={STATE_COLOR[s.state]}>{s.state}</Text>: {reasonOf(s)}</Text>
          ))}
        </Box>
      )}
      {errors.length > 0 && (
        <Box flexDirection="column" marginTop={1}>
          {errors.map((e) => <Text key={e.node} color="red">{errorLines(e.error, oneLine)}</Text>)}
        </Box>
      )}
      {statuses.length > 0 && <Box marginTop={1}><Text>{countLine(statuses)}</Text></Box>}
    </Box>
  );
}
