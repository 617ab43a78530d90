// The watch screen: when the table was refreshed and when it will be next, the table, the notices; q and Ctrl+C.
import { Box, Text, useInput } from 'ink';
import { useEffect, useState } from 'react';
import type { SteerCommand } from '../../steer.js';
import { oneLine } from '../../util/terminal-text.js';
import type { WatchState } from './watch-state.js';
import { StatusTable } from './status-table.js';

/** `09:15:02`: the person's own clock. */
export function clockTime(ms: number): string {
  return new Date(ms).toTimeString().slice(0, 8);
}

/** `refreshed at 09:15:02, next in 3s`, or `refreshing…` while the next refresh runs. */
export function refreshLine(state: WatchState, intervalMs: number, now: number): string {
  if (state.refreshedAt === undefined) return state.current ? 'first refresh: evaluating and asking the nodes…' : 'not refreshed yet';
  const at = `refreshed at ${clockTime(state.refreshedAt)}`;
  if (state.current) return `${at}, refreshing…`;
  const seconds = Math.max(0, Math.ceil((state.refreshedAt + intervalMs - now) / 1000));
  return `${at}, next in ${seconds}s`;
}

export function StatusWatchScreen({ state, intervalMs, now, quitting = false }: { state: WatchState; intervalMs: number; now: number; quitting?: boolean }) {
  return (
    <Box flexDirection="column">
      <Text>
        <Text bold>fleet status --watch</Text>
        <Text dimColor> · every {intervalMs / 1000}s · </Text>
        {refreshLine(state, intervalMs, now)}
      </Text>
      <Box marginTop={1}>{state.latest ? <StatusTable view={state.latest} /> : <Text dimColor>no complete refresh yet</Text>}</Box>
      {state.notices.length > 0 && (
        <Box flexDirection="column" marginTop={1}>
          {state.notices.map((n, i) => <Text key={i} color="yellow">{oneLine(n)}</Text>)}
        </Box>
      )}
      <Box marginTop={1}><Text dimColor>{quitting ? 'quitting…' : 'q quit · Ctrl+C interrupt'}</Text></Box>
    </Box>
  );
}

/** The screen, its countdown ticking each second, and the keys: q sends `quit`, Ctrl+C `abort`. */
export function StatusWatchApp({ state, intervalMs, send }: { state: WatchState; intervalMs: number; send: (command: SteerCommand) => void }) {
  const [now, setNow] = useState(() => Date.now());
  const [quitting, setQuitting] = useState(false);
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(timer);
  }, []);
  useInput((input, key) => {
    if (key.ctrl && input === 'c') send({ type: 'abort' });
    else if (input === 'q' && !key.ctrl) {
      setQuitting(true);
      send({ type: 'quit' });
    }
  });
  return <StatusWatchScreen state={state} intervalMs={intervalMs} now={now} quitting={quitting} />;
}
