// `fleet apply -i`: one component, a pure function of the run view and its own UI state; keys become commands.
import { Box, useInput, useStdout, type Key } from 'ink';
import { useEffect, useRef, useState } from 'react';
import type { SteerCommand } from '../../../steer.js';
import type { RunView } from '../../view.js';
import { Lines, line, piece, windowed, type Line } from './lines.js';
import {
  canPause, detailScreen, initialUiState, nodeOrder, prepareScreen, resultScreen, reviewScreen, rolloutScreen, selectedNode,
  type Screen, type UiState,
} from './screens.js';

export interface ApplyAppProps {
  view: RunView;
  send: (command: SteerCommand) => void;
  /** Lines for the person (the Ctrl+C notice), newest last. */
  notices?: readonly string[];
  /** The clock elapsed times are measured against (ms). */
  now: number;
  /** The terminal's size; default: the stdout ink draws on (no limit when it does not say). */
  rows?: number;
  columns?: number;
}

/** At most this many notices are shown, the newest. */
const NOTICES = 3;

export function ApplyApp({ view, send, notices = [], now, rows, columns }: ApplyAppProps) {
  const { stdout } = useStdout();
  const height = rows ?? stdout.rows ?? Number.POSITIVE_INFINITY;
  const width = columns ?? stdout.columns ?? 80;
  const [ui, setUi] = useState<UiState>(initialUiState);
  // Keys of one read arrive before React renders again: each must see the state the previous one left.
  const latest = useRef(ui);
  const update = (next: UiState) => {
    latest.current = next;
    setUi(next);
  };
  const over = view.summary !== undefined;

  // The pause asked for came: "pausing after wave k" gives way to the paused prompt.
  useEffect(() => {
    if (view.paused && latest.current.pauseAsked) update({ ...latest.current, pauseAsked: false });
  }, [view.paused]);

  useInput((input, key) => {
    const next = onKey(latest.current, input, key, view, send, Math.max(1, Math.min(height, 200) - 10));
    if (next !== latest.current) update(next);
  }, { isActive: !over });

  const screen = screenOf(view, ui, now, height);
  const noticeLines: Line[] = notices.slice(-NOTICES).map((n) => line(piece(n, 'warn')));
  const fixed = screen.header.length + screen.footer.length + noticeLines.length;
  // One line short of the terminal: a frame as tall as the screen makes ink clear it (and the scrollback).
  const room = Math.max(3, height - fixed - 1);
  const body = windowed(screen.body, room, screen.focus);
  return (
    <Box flexDirection="column" width={width}>
      <Lines lines={screen.header} />
      <Lines lines={body} wrap={screen.wrap ?? false} />
      <Lines lines={noticeLines} />
      <Lines lines={screen.footer} />
    </Box>
  );
}

export function screenOf(view: RunView, ui: UiState, now: number, rows: number): Screen {
  if (view.summary) return resultScreen(view);
  if (ui.detail) return detailScreen(view, ui);
  if (!view.plan) return prepareScreen(view, now, ui);
  if (view.review === 'waiting') return reviewScreen(view, ui, now, rows);
  return rolloutScreen(view, ui, now, rows);
}

/** One key: the next UI state; commands go out through `send` (each key sends at most one). `page`: the lines
 *  PgUp/PgDn move the selection by. */
export function onKey(ui: UiState, input: string, key: Key, view: RunView, send: (command: SteerCommand) => void, page = 10): UiState {
  if (view.summary) return ui;
  // Ctrl+C is the CLI's interrupt wherever the UI is: the same as outside it (first stops, second quits).
  if (key.ctrl && input === 'c') {
    send({ type: 'abort' });
    return { ...ui, askAbort: false, aborting: true };
  }
  if (ui.askAbort) {
    if (input === 'y') {
      send({ type: 'abort' });
      return { ...ui, askAbort: false, aborting: true };
    }
    return input === 'n' || key.escape ? { ...ui, askAbort: false } : ui;
  }
  if (ui.detail) {
    if (key.escape || key.return || input === 'q') return withoutDetail(ui);
    if (key.upArrow) return { ...ui, detail: { scroll: Math.max(0, ui.detail.scroll - 1) } };
    if (key.downArrow) return { ...ui, detail: { scroll: ui.detail.scroll + 1 } };
    return ui;
  }
  if (ui.filtering) return filtering(ui, input, key, view, page);
  if (key.upArrow || key.downArrow) return moved(ui, view, key.upArrow ? -1 : 1);
  if (key.pageUp || key.pageDown) return moved(ui, view, key.pageUp ? -page : page);
  if (key.home || key.end) return moved(ui, view, key.home ? -Infinity : Infinity);
  if (input === '/') return { ...ui, filtering: true };
  if (key.escape && ui.filter !== undefined) return withoutFilter(ui);
  if (input === 'l') return { ...ui, logPane: !ui.logPane };
  if (key.return) return selectedNode(view, ui)?.diff ? { ...ui, detail: { scroll: 0 } } : ui;
  if (!view.plan) return ui;

  if (view.review === 'waiting') {
    if (ui.decided || ui.aborting) return ui;
    if (input === 'y') {
      send({ type: 'approve' });
      return { ...ui, decided: 'approve' };
    }
    if (input === 'n' || input === 'q') {
      send({ type: 'decline' });
      return { ...ui, decided: 'decline' };
    }
    return ui;
  }

  if (ui.aborting || ui.stopping || view.review === 'declined') return ui;
  if (input === 'a') return { ...ui, askAbort: true };
  if (view.paused) {
    if (input === 'r' || input === 'y') {
      send({ type: 'resume' });
      return ui;
    }
    if (input === 'n') {
      send({ type: 'decline' });
      return { ...ui, stopping: true };
    }
    return ui;
  }
  if (input === 'p' && canPause(view) && !ui.pauseAsked) {
    send({ type: 'pause' });
    return { ...ui, pauseAsked: true };
  }
  if (input === 'r' && ui.pauseAsked) {
    send({ type: 'resume' });
    return { ...ui, pauseAsked: false };
  }
  return ui;
}

/** While the filter is typed every key is text: Enter keeps it, Esc clears it, Backspace takes a character back. */
function filtering(ui: UiState, input: string, key: Key, view: RunView, page: number): UiState {
  if (key.escape) return withoutFilter(ui);
  if (key.return) return ui.filter ? { ...ui, filtering: false } : withoutFilter(ui);
  if (key.upArrow || key.downArrow) return moved(ui, view, key.upArrow ? -1 : 1);
  if (key.pageUp || key.pageDown) return moved(ui, view, key.pageUp ? -page : page);
  if (key.backspace || key.delete) return { ...ui, filter: (ui.filter ?? '').slice(0, -1) };
  if (key.ctrl || key.meta || key.tab || input === '') return ui;
  return { ...ui, filter: `${ui.filter ?? ''}${input.replace(/[\u0000-\u001f\u007f]/g, '')}` }; // eslint-disable-line no-control-regex
}

function withoutFilter(ui: UiState): UiState {
  const { filter: _filter, filtering: _filtering, ...rest } = ui;
  return rest;
}

function withoutDetail(ui: UiState): UiState {
  const { detail: _detail, ...rest } = ui;
  return rest;
}

function moved(ui: UiState, view: RunView, by: number): UiState {
  const order = nodeOrder(view, ui);
  if (order.length === 0) return ui;
  const at = Math.max(0, order.indexOf(selectedNode(view, ui)?.name ?? ''));
  return { ...ui, selected: order[Math.max(0, Math.min(order.length - 1, at + by))]! };
}
