// `fleet reboot`: apply's run with nothing to deploy: every selected node is rebooted under its lock (in waves when
// staged), must come back on its boot default within --reboot-timeout and pass its health checks.
import type { ApplyCliOptions } from '../apply-policy.js';
import type { CliIo } from '../io.js';
import type { Session } from '../session.js';
import { runApply } from './apply.js';

export type RebootCliOptions = Omit<ApplyCliOptions, 'reboot' | 'parallel'>;

export async function runReboot(options: RebootCliOptions, io: CliIo, signal: AbortSignal, session?: Session): Promise<number> {
  // goal boot: what each node must come back on is its boot default (its profile); nothing is activated.
  return runApply('boot', { ...options, parallel: 10 }, io, signal, { ...(session ? { session } : {}), reboot: true });
}
