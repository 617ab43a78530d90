// `fleet apply -i`: the renderer the CLI gets; folds events into the run view and draws it with ink.
import { createElement } from 'react';
import type { SteerCommand } from '../../steer.js';
import type { Terminal } from '../../terminal.js';
import type { Renderer } from '../renderer.js';
import { formatReport } from '../report.js';
import { initialView, reduceRun, type RunView } from '../view.js';
import { ApplyApp } from './apply/app.js';
import { wrappedHeight } from './apply/lines.js';
import { mount, type Mounted } from './mount.js';

export interface InteractiveRenderer extends Renderer {
  /** A line for the person (the Ctrl+C notice), shown inside the UI instead of across it. */
  notice(text: string): void;
  /** Unmount and give the terminal back (raw mode off, cursor shown); idempotent and synchronous (a forced quit). */
  restore(): void;
}

export interface InteractiveOptions {
  /** At most one redraw per this many ms however fast events come (default 80). */
  throttleMs?: number;
  /** Elapsed times move on this often without events (default 1000). */
  tickMs?: number;
  now?: () => number;
}

/** Plan review, live rollout, result; `finish()` shows the result and restores the terminal. */
export function createInteractiveRenderer(terminal: Terminal, send: (command: SteerCommand) => void, options: InteractiveOptions = {}): InteractiveRenderer {
  const now = options.now ?? Date.now;
  let view: RunView = initialView();
  const notices: string[] = [];
  let pending: NodeJS.Timeout | undefined;
  let done = false;

  const element = (shown: RunView) => createElement(ApplyApp, { view: shown, send, notices: [...notices], now: now() });
  const mounted: Mounted = mount(terminal, element(view));
  const draw = () => {
    pending = undefined;
    if (!done) mounted.update(element(view));
  };
  const tick = setInterval(draw, options.tickMs ?? 1000);
  tick.unref();
  // A smaller terminal needs another cut of the lists, not just ink's reflow.
  terminal.stdout.on('resize', draw);
  const stop = () => {
    done = true;
    clearInterval(tick);
    terminal.stdout.off('resize', draw);
    if (pending) clearTimeout(pending);
    pending = undefined;
  };

  return {
    onEvent(e) {
      try {
        view = reduceRun(view, e);
        if (!pending && !done) {
          pending = setTimeout(draw, options.throttleMs ?? 80);
          pending.unref();
        }
      } catch {
        // A renderer never throws into the run: the next event or finish() draws again.
      }
    },
    notice(text) {
      notices.push(text);
      draw();
    },
    async finish() {
      if (done) return;
      // A report taller than the terminal would make ink clear the screen: it is printed below the UI instead.
      const report = formatReport(view);
      const tall = wrappedHeight(report, terminal.stdout.columns ?? 80) + Math.min(notices.length, 3) >= (terminal.stdout.rows ?? Number.POSITIVE_INFINITY);
      if (tall) mounted.update(createElement(() => null));
      else draw();
      stop();
      mounted.restore();
      await mounted.exited;
      if (tall) terminal.stdout.write(`${report.replace(/^\n/, '')}${notices.map((n) => `${n}\n`).join('')}`);
    },
    restore() {
      stop();
      mounted.restore();
    },
    outputBroken: false,
    get view() {
      return view;
    },
  };
}
