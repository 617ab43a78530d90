// An SSH master that cannot outlive fleet. `ssh -N` ignores EOF on stdin (checked: it keeps running), and with
// ControlPersist a SIGKILLed fleet left masters for 300 s; so the master runs in the foreground under a tiny sh
// watchdog holding a pipe from fleet: when that pipe closes (fleet exited or was killed), the watchdog ends ssh.
import { existsSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa } from 'execa';

// $@ is ssh's argv. fd 3 keeps fleet's pipe for the watcher alone; ssh reads /dev/null.
const WATCHDOG = `exec 3<&0
ssh "$@" </dev/null 3<&- &
ssh_pid=$!
{ while read -r _; do :; done; kill "$ssh_pid" 2>/dev/null; } <&3 &
watcher_pid=$!
exec 3<&-
wait "$ssh_pid"
code=$?
kill "$watcher_pid" 2>/dev/null
exit "$code"
`;

const POLL_MS = 20;

export interface Master {
  /** Settles once the master and its watchdog have exited (`ssh -O exit`, a dropped connection, kill). */
  readonly exited: Promise<unknown>;
  /** Ends the master and its watchdog now: SIGTERM to their process group. */
  kill(): void;
  /** It has exited: commands no longer ride it. */
  readonly dead: boolean;
}

export type MasterStart =
  | { ok: true; master: Master }
  | { ok: false; reason: 'failed' | 'timed-out' | 'canceled'; detail: string };

export interface StartMasterOptions {
  /** ssh's arguments (no `ssh`): they must make it a foreground master (`-N`, ControlMaster=yes, ControlPersist=no). */
  sshArgs: string[];
  controlPath: string;
  timeoutMs: number;
  /** Cancels the connect only: a master that is up is left to `-O exit` (activations in flight ride it). */
  signal?: AbortSignal;
}

/** Starts the master; resolves once its control socket exists, which ssh creates only after authenticating. */
export async function startMaster(options: StartMasterOptions): Promise<MasterStart> {
  if (options.signal?.aborted) return { ok: false, reason: 'canceled', detail: '' };
  const child = execa('sh', ['-c', WATCHDOG, 'fleet-ssh-master', ...options.sshArgs], {
    reject: false,
    stdin: 'pipe',
    stdout: 'ignore',
    stderr: 'pipe',
    detached: true, // own process group: a terminal Ctrl+C must not cut the master activations ride
  });
  let exited = false;
  const done = child.then((r) => {
    exited = true;
    return r;
  });
  const kill = (signal: NodeJS.Signals = 'SIGTERM') => {
    try {
      if (child.pid !== undefined) process.kill(-child.pid, signal);
    } catch {
      // already gone
    }
  };
  const master: Master = { exited: done, kill: () => kill(), get dead() { return exited; } };

  const deadline = Date.now() + options.timeoutMs;
  for (;;) {
    if (existsSync(options.controlPath)) return { ok: true, master };
    if (exited) {
      const r = await done;
      // ssh ends its lines with \r\n on a terminal: a lone \r in a message sends a terminal's cursor back to column 0.
      const said = String(r.stderr ?? '').trim().split(/\r?\n/).slice(-3).map((l) => l.trim()).join('; ');
      return { ok: false, reason: 'failed', detail: said || r.shortMessage || `ssh exited with code ${r.exitCode}` };
    }
    const reason = options.signal?.aborted ? 'canceled' : Date.now() > deadline ? 'timed-out' : undefined;
    if (reason) {
      kill();
      // ssh dies on SIGTERM while connecting; SIGKILL only if something in the group hangs on.
      const gone = await Promise.race([done.then(() => true), sleep(2000).then(() => false)]);
      if (!gone) kill('SIGKILL');
      await done;
      return { ok: false, reason, detail: '' };
    }
    await sleep(POLL_MS);
  }
}
