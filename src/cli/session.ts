// What the process knows about the run in progress: a forced quit (second Ctrl+C) names the nodes it abandons.
export interface Session {
  /** The running apply hands over its set of nodes mid-activation. */
  track(activating: ReadonlySet<string>): void;
  activating(): string[];
}

export function createSession(): Session {
  let current: ReadonlySet<string> = new Set();
  return {
    track: (activating) => (current = activating),
    activating: () => [...current],
  };
}
