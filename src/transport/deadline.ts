// A remote command's limit, kept on the target too: killing the local ssh client neither ends the remote
// command nor closes the session (the master holds it), so the target bounds the command itself.

/** What the target waits beyond the limit: the deployer's own timer fires first and reports "timed out". */
export const REMOTE_GRACE_MS = 1000;
/** After the limit, a command that ignores SIGTERM gets SIGKILL this many seconds later. */
export const KILL_AFTER_S = 5;

/** argv under coreutils `timeout` (its own process group: the command's children end with it); as is without a limit. */
export function boundedArgv(argv: readonly string[], timeoutMs: number | undefined): string[] {
  if (timeoutMs === undefined) return [...argv];
  const seconds = (Math.max(1, Math.ceil(timeoutMs)) + REMOTE_GRACE_MS) / 1000;
  return ['timeout', '-k', String(KILL_AFTER_S), String(seconds), ...argv];
}
