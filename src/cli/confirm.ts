// `pause: confirm`: ask on the terminal before the next wave; only an explicit yes goes on.
import type { PasswordTerminal } from '../terminal.js';
import { createSteering, type WaveGate } from '../deploy/steering.js';
import type { FleetEvent } from '../events.js';

const EOT = '\u0004'; // Ctrl+D on a line of its own in raw input

/** Writes `question [y/N] ` to `out` and reads one line from the terminal (cooked mode: the tty echoes and edits it).
 *  `y`/`yes` (any case) → true; anything else, end of input or the signal firing → false. */
export function askToContinue(terminal: PasswordTerminal, out: NodeJS.WritableStream, question: string, signal?: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    let line = '';
    const finish = (answer: boolean) => {
      terminal.removeListener('data', onData);
      signal?.removeEventListener('abort', onAbort);
      terminal.pause();
      resolve(answer);
    };
    const onData = (chunk: Buffer) => {
      line += chunk.toString('utf8');
      const end = Math.min(...['\n', '\r', EOT].map((c) => line.indexOf(c)).filter((i) => i >= 0));
      if (end !== Infinity) finish(/^\s*y(es)?\s*$/i.test(line.slice(0, end)));
    };
    const onAbort = () => finish(false);
    if (signal?.aborted) return resolve(false);
    signal?.addEventListener('abort', onAbort, { once: true });
    out.write(`${question} [y/N] `);
    terminal.on('data', onData);
    terminal.resume();
  });
}

export type TerminalWaveGate = WaveGate & { onEvent(event: FleetEvent): void };

/** Without -i: the run's wave gate, fed the run's events. When it pauses for `pause: confirm` it asks on the terminal
 *  (`out`: stderr, as stdout may carry --json events) and goes on or declines; `signal` (Ctrl+C) ends the question. */
export function confirmOnTerminal(terminal: PasswordTerminal, out: NodeJS.WritableStream, signal: AbortSignal): TerminalWaveGate {
  const gate = createSteering();
  let waves = 0;
  return {
    takePause: () => gate.takePause(),
    resumed: (s) => gate.resumed(s),
    onEvent(event) {
      if (event.type === 'plan') waves = event.plan.waves?.length ?? 0;
      if (event.type !== 'paused' || event.reason !== 'confirm') return;
      void askToContinue(terminal, out, `fleet: wave ${event.wave - 1} of ${waves} passed; start wave ${event.wave}?`, signal)
        .then((go) => gate.send({ type: go ? 'resume' : 'decline' }));
    },
  };
}
