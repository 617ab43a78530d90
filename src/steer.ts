// What a person at the terminal can ask of a running apply: the interactive UI sends these and nothing else
// (it never calls deploy); the CLI hands them to the run's steering, or `abort` to its Ctrl+C handler.
export type SteerCommand =
  /** Plan review: deploy this plan. */
  | { type: 'approve' }
  /** Plan review: leave with nothing touched. Paused before a wave: do not go on (later waves end `held`). */
  | { type: 'decline' }
  /** Stop before the next wave starts (the current one finishes). */
  | { type: 'pause' }
  /** Go on (or take back a pause not yet reached). */
  | { type: 'resume' }
  /** Exactly as Ctrl+C: nothing new starts, running activations finish or roll back; a second one quits. */
  | { type: 'abort' }
  /** Leave a view that deploys nothing (`fleet status --watch`: q). */
  | { type: 'quit' };
