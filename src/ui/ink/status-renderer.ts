// `fleet status --watch`: the status table of the latest complete refresh, redrawn in place.
import { createElement } from 'react';
import type { FleetEvent } from '../../events.js';
import type { SteerCommand } from '../../steer.js';
import type { Terminal } from '../../terminal.js';
import { initialView, reduceRun, type RunView } from '../view.js';
import { mount } from './mount.js';
import { StatusWatchApp } from './status-watch.js';

export interface StatusWatch {
  /** Every event of every refresh, in order; a `run-start` begins a refresh. */
  onEvent(e: FleetEvent): void;
  notice(text: string): void;
  restore(): void;
  /** The watch ends: unmount, terminal back. */
  finish(): Promise<void>;
}

/** Notices kept on the screen (the newest). */
export const NOTICES_KEPT = 5;

/** What the watch shows: only run views, folded by the run view reducer, one per refresh. */
export interface WatchState {
  /** The newest refresh that ended with its summary (not interrupted): the table shown. */
  latest?: RunView;
  /** When `latest` ended (its summary's time, ms since the epoch). */
  refreshedAt?: number;
  /** The refresh under way (from its run-start to its summary). */
  current?: RunView;
  /** Complete refreshes so far. */
  refreshes: number;
  notices: readonly string[];
}

export function initialWatch(): WatchState {
  return { refreshes: 0, notices: [] };
}

/** Pure: a run-start opens a new refresh; its summary makes it the one shown, unless it was interrupted. */
export function foldWatch(state: WatchState, e: FleetEvent): WatchState {
  if (e.type === 'run-start') return { ...state, current: reduceRun(initialView(), e) };
  if (!state.current) return state; // nothing to fold it into: an event of no refresh
  const current = reduceRun(state.current, e);
  if (!current.summary) return { ...state, current };
  // A refresh cut short (q, Ctrl+C) asked nobody to the end: the complete one before it stays.
  if (current.summary.interrupted) return { ...state, current: undefined };
  return { ...state, latest: current, current: undefined, refreshedAt: Date.parse(current.summary.time), refreshes: state.refreshes + 1 };
}

export function withNotice(state: WatchState, text: string): WatchState {
  return { ...state, notices: [...state.notices, text].slice(-NOTICES_KEPT) };
}

/** q sends `quit`, Ctrl+C `abort`. */
export function createStatusWatch(terminal: Terminal, options: { intervalMs: number }, send: (command: SteerCommand) => void): StatusWatch {
  let state = initialWatch();
  const element = () => createElement(StatusWatchApp, { state, intervalMs: options.intervalMs, send });
  const mounted = mount(terminal, element());
  const set = (next: WatchState) => {
    // Phases of the refresh under way change nothing on the screen: redraw only what shows.
    const visible = next.latest !== state.latest || !!next.current !== !!state.current || next.notices !== state.notices;
    state = next;
    if (visible) mounted.update(element());
  };
  return {
    onEvent: (e) => set(foldWatch(state, e)),
    notice: (text) => set(withNotice(state, text)),
    restore: () => mounted.restore(),
    async finish() {
      mounted.restore();
      await mounted.exited;
    },
  };
}
