// The one interface the deploy pipeline talks to; renderers never reach back into the pipeline.
import type { FleetEvent } from '../events.js';

export interface Renderer {
  /** Called synchronously for every event, in order. */
  onEvent(e: FleetEvent): void;
  /** The run is over: flush output, print the final report; resolves when everything is written. */
  finish(): Promise<void>;
}
