// `fleet status --watch`: the status table of the latest complete refresh, redrawn in place.
import { createElement } from 'react';
import type { FleetEvent } from '../../events.js';
import type { SteerCommand } from '../../steer.js';
import type { Terminal } from '../../terminal.js';
import { mount } from './mount.js';
import { StatusWatchApp } from './status-watch.js';
import { foldWatch, initialWatch, withNotice, type WatchState } from './watch-state.js';

export interface StatusWatch {
  /** Every event of every refresh, in order; a `run-start` begins a refresh. */
  onEvent(e: FleetEvent): void;
  notice(text: string): void;
  restore(): void;
  /** The watch ends: unmount, terminal back. */
  finish(): Promise<void>;
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
