// What the process knows about the run in progress: a forced quit (second Ctrl+C) names the nodes it abandons,
// and gives the terminal back first when an interactive UI holds it.
export interface Session {
  /** The running apply hands over its set of nodes mid-activation. */
  track(activating: ReadonlySet<string>): void;
  activating(): string[];
  /** A deploy run was handed over (track): only then may Ctrl+C leave activations to finish or roll back. */
  deploying(): boolean;
  /** What Ctrl+C / SIGTERM do, for a UI that reads Ctrl+C itself (raw mode): the same handler. */
  interrupt(): void;
  /** A line for the person: on stderr, or inside the interactive UI while one is shown. */
  notice(text: string): void;
  /** An interactive UI takes over notices and must be restored before a forced quit; returns the undo. */
  attach(ui: { notice(text: string): void; restore(): void }): () => void;
  /** Before a forced quit: the attached UI gives the terminal back. */
  restore(): void;
  /** A run's last words on a forced quit (its event stream's summary); returns the undo. */
  onQuit(handler: QuitHandler): () => void;
  /** The forced quit: every handler, synchronously, before the process exits with `exitCode`. */
  quit(exitCode: number, activating: readonly string[]): void;
}

export type QuitHandler = (exitCode: number, activating: readonly string[]) => void;

export function createSession(stderr: { write(text: string): unknown } = process.stderr, interrupt: () => void = () => {}): Session {
  let current: ReadonlySet<string> | undefined;
  let ui: { notice(text: string): void; restore(): void } | undefined;
  const quitHandlers = new Set<QuitHandler>();
  return {
    track: (activating) => (current = activating),
    activating: () => [...(current ?? [])],
    deploying: () => current !== undefined,
    interrupt: () => interrupt(),
    // On stderr on a line of its own: the terminal may have echoed ^C.
    notice: (text) => (ui ? ui.notice(text) : stderr.write(`\n${text}\n`)),
    attach(attached) {
      ui = attached;
      return () => {
        if (ui === attached) ui = undefined;
      };
    },
    restore: () => ui?.restore(),
    onQuit(handler) {
      quitHandlers.add(handler);
      return () => quitHandlers.delete(handler);
    },
    quit(exitCode, activating) {
      for (const handler of quitHandlers) handler(exitCode, activating);
    },
  };
}
