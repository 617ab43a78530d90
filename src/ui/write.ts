// Writes that finish() can wait for, and that never take fleet down: output is best effort, a deployment is not.

interface StreamState {
  broken: boolean;
  pending: Set<() => void>; // writes waiting for their callback; released when the stream errors
}

const states = new WeakMap<NodeJS.WritableStream, StreamState>();

function breakOutput(state: StreamState): void {
  state.broken = true;
  for (const release of state.pending) release();
  state.pending.clear();
}

/** One 'error' listener per stream: a closed pipe (EPIPE) must not become an uncaught exception. */
function stateOf(out: NodeJS.WritableStream): StreamState {
  let state = states.get(out);
  if (!state) {
    const fresh: StreamState = { broken: false, pending: new Set() };
    out.on('error', () => breakOutput(fresh));
    states.set(out, (state = fresh));
  }
  const closed = out as Partial<{ destroyed: boolean; writableEnded: boolean }>;
  if (!state.broken && (closed.destroyed === true || closed.writableEnded === true)) breakOutput(state);
  return state;
}

/** Make `out` safe to write to (idempotent): renderers call it first, so even listr2's own writes cannot crash. */
export function guardOutput(out: NodeJS.WritableStream): void {
  stateOf(out);
}

/** Did writing to `out` fail (closed pipe, destroyed stream)? After that nothing more is written to it. */
export function isOutputBroken(out: NodeJS.WritableStream): boolean {
  return stateOf(out).broken;
}

/** Write `text` and resolve once the stream has taken it; resolves too (writing nothing) once the output broke. */
export function writeText(out: NodeJS.WritableStream, text: string): Promise<void> {
  const state = stateOf(out);
  if (text === '' || state.broken) return Promise.resolve();
  return new Promise((resolve) => {
    const release = () => {
      state.pending.delete(release);
      resolve();
    };
    state.pending.add(release);
    try {
      out.write(text, (err?: Error | null) => {
        if (err) breakOutput(state);
        release();
      });
    } catch {
      breakOutput(state); // a stream that throws instead of emitting 'error'
    }
  });
}
