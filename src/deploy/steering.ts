// The gates an interactive run waits at: the plan review, and a pause before a wave. The CLI feeds it the
// UI's commands; the run only ever awaits it, so the UI never reaches into deploy.
import type { SteerCommand } from '../steer.js';

/** The gate before each wave (src/deploy/rollout.ts): a pause asked for, and `rollout.pause: confirm`, wait here. */
export interface WaveGate {
  /** Whether a pause before the next wave was asked for; taking it clears it (one p, one pause). */
  takePause(): boolean;
  /** Waits while paused: true on resume, false on decline or when `signal` aborts. */
  resumed(signal: AbortSignal): Promise<boolean>;
}

/** The plan review of `-i` (src/deploy/review.ts). */
export interface Review {
  /** Resolves true when the plan is approved; false when declined or `signal` aborts. */
  review(signal: AbortSignal): Promise<boolean>;
}

/** Both gates of an interactive run. */
export interface Steering extends WaveGate, Review {}

export interface SteeringControl extends Steering {
  /** approve, decline, pause, resume; `abort` is the Ctrl+C handler's and `quit` the CLI's, not the steering's. */
  send(command: SteerCommand): void;
}

export function createSteering(): SteeringControl {
  let pauseAsked = false;
  let waiting: { kind: 'review' | 'pause'; settle: (go: boolean) => void } | undefined;

  const wait = (kind: 'review' | 'pause', signal: AbortSignal) => new Promise<boolean>((resolve) => {
    if (signal.aborted) return resolve(false);
    const onAbort = () => settle(false);
    const settle = (go: boolean) => {
      waiting = undefined;
      signal.removeEventListener('abort', onAbort);
      resolve(go);
    };
    signal.addEventListener('abort', onAbort, { once: true });
    waiting = { kind, settle };
  });

  return {
    review: (signal) => wait('review', signal),
    resumed: (signal) => wait('pause', signal),
    takePause() {
      const asked = pauseAsked;
      pauseAsked = false;
      return asked;
    },
    send(command) {
      switch (command.type) {
        case 'approve':
          if (waiting?.kind === 'review') waiting.settle(true);
          return;
        case 'resume':
          if (waiting?.kind === 'pause') waiting.settle(true);
          else pauseAsked = false;
          return;
        case 'decline':
          waiting?.settle(false);
          return;
        case 'pause':
          if (!waiting) pauseAsked = true;
          return;
        case 'abort':
        case 'quit':
          return;
      }
    },
  };
}
