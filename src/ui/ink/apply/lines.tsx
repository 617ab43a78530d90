// Screens are built as plain lines of coloured pieces, then cut to the terminal: one line never wraps, and a
// list longer than the screen scrolls around the selection.
import { Box, Text } from 'ink';
import type { Tone } from './words.js';

export interface Piece {
  text: string;
  tone?: Tone | 'key' | 'head';
  bold?: boolean;
  inverse?: boolean;
}
export type Line = readonly Piece[];

const colours: Record<NonNullable<Piece['tone']>, string | undefined> = {
  good: 'green', bad: 'red', warn: 'yellow', quiet: 'gray', busy: 'cyan', key: 'magenta', head: undefined,
};

export const piece = (text: string, tone?: Piece['tone'], extra: Omit<Piece, 'text' | 'tone'> = {}): Piece => ({ text, ...(tone ? { tone } : {}), ...extra });
export const line = (...pieces: (Piece | string)[]): Line => pieces.map((p) => (typeof p === 'string' ? { text: p } : p));

/** One line, cut at the terminal's width (the frame's height is what was counted), or wrapped (the result). */
export function LineView({ value, wrap = false }: { value: Line; wrap?: boolean }) {
  return (
    <Text wrap={wrap ? 'wrap' : 'truncate-end'}>
      {value.every((p) => p.text === '') ? ' ' : value.map((p, i) => (
        <Text key={i} color={p.tone ? colours[p.tone] : undefined} bold={p.bold || p.tone === 'head'} inverse={p.inverse}>{p.text}</Text>
      ))}
    </Text>
  );
}

export function Lines({ lines, wrap = false }: { lines: readonly Line[]; wrap?: boolean }) {
  return (
    <Box flexDirection="column">
      {lines.map((l, i) => <LineView key={i} value={l} wrap={wrap} />)}
    </Box>
  );
}

/** How many terminal rows `text` takes at `columns` when its long lines wrap. */
export function wrappedHeight(text: string, columns: number): number {
  return text.split('\n').reduce((rows, l) => rows + Math.max(1, Math.ceil([...l].length / Math.max(1, columns))), 0);
}

/** At most `height` lines of `lines`, keeping lines [focus.start, focus.end) in view; a line says what is cut. */
export function windowed(lines: readonly Line[], height: number, focus?: { start: number; end: number }): Line[] {
  if (lines.length <= height) return [...lines];
  const more = (n: number, arrow: string) => line(piece(`  ${arrow} ${n} more line${n === 1 ? '' : 's'}`, 'quiet'));
  const room = Math.max(1, height - 2);
  const wanted = focus ? focus.start - Math.floor((room - (focus.end - focus.start)) / 2) : 0;
  if (wanted <= 0) return [...lines.slice(0, Math.max(1, height - 1)), more(lines.length - Math.max(1, height - 1), '↓')];
  if (wanted + room >= lines.length - 1) {
    const shown = Math.max(1, height - 1);
    return [more(lines.length - shown, '↑'), ...lines.slice(lines.length - shown)];
  }
  return [more(wanted, '↑'), ...lines.slice(wanted, wanted + room), more(lines.length - wanted - room, '↓')];
}
