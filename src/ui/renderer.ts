// The one interface the deploy pipeline talks to; renderers never reach back into the pipeline.
import type { FleetEvent } from '../events.js';
import type { RunView } from './view.js';

export interface Renderer {
  /** Called synchronously for every event, in order; never throws. */
  onEvent(e: FleetEvent): void;
  /** The run is over: flush output, print the final report; resolves when everything is written (or the output broke). */
  finish(): Promise<void>;
  /** Writing failed (e.g. EPIPE: `fleet apply --json | head -1`); the renderer stopped writing, the run goes on. */
  readonly outputBroken: boolean;
  /** The run as folded from the events so far (the same for every renderer). */
  readonly view: RunView;
}
