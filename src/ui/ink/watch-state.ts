// `fleet status --watch`, the pure part: what the watch shows, folded from the events of its refreshes. Below both
// the renderer that feeds it and the screen that draws it.
import type { FleetEvent } from '../../events.js';
import { initialView, reduceRun, type RunView } from '../view.js';

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
