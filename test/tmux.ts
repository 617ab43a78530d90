// A real terminal for end-to-end tests of fleet's terminal UIs (`status --watch`, `apply -i`): a private tmux
// server per session, keys in, screen out, the exit code and the terminal's modes after the command ended.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { waitFor } from './poll.js';

export interface TmuxOptions {
  /** The command and its arguments (argv: no shell quoting). */
  command: string[];
  cwd?: string;
  /** Added to the test's environment; CI, CONTINUOUS_INTEGRATION and CI_* are removed (see below). */
  env?: Record<string, string>;
  width?: number; // default 160
  height?: number; // default 50
}

export interface TerminalModes {
  /** Line editing (icanon) and echo are on: raw mode was turned off. */
  canonical: boolean;
  echo: boolean;
  /** The cursor is shown (tmux's cursor_flag). */
  cursorVisible: boolean;
}

export interface TmuxSession {
  /** Send tmux key names, each one key: 'q', 'y', 'Enter', 'Up', 'C-c'. */
  sendKeys(...keys: string[]): Promise<void>;
  /** Type this text literally (send-keys -l). */
  type(text: string): Promise<void>;
  /** The screen now, as text (capture-pane -p): one line per row, trailing blanks trimmed. */
  capture(): Promise<string>;
  /** Polls the screen until it matches (regex or predicate); returns that screen; throws with the last screen. */
  waitForScreen(match: RegExp | ((screen: string) => boolean), timeoutMs?: number): Promise<string>;
  /** The command's exit code once it has ended (128+N for signal N), else undefined. */
  exitCode(): number | undefined;
  /** Waits for the command to end and returns its exit code; throws with the last screen after timeoutMs. */
  waitForExit(timeoutMs?: number): Promise<number>;
  /** After the command ended: the terminal's modes it left behind (read by `stty -a` in the same terminal). */
  modesAfterExit(): Promise<TerminalModes>;
  /** Kill the server (and the command, if still running) and remove its files; idempotent. */
  close(): Promise<void>;
}

// A terminal test is a person at a terminal: under CI variables, ink draws only the last frame, at exit.
function terminalEnv(extra: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v !== undefined && k !== 'CI' && k !== 'CONTINUOUS_INTEGRATION' && !k.startsWith('CI_') && !k.startsWith('TMUX')) env[k] = v;
  }
  return { ...env, ...extra };
}

/** Runs `command` in a detached tmux session of a fixed size on a private server; call close() after. */
export async function startTmux(options: TmuxOptions): Promise<TmuxSession> {
  // In /tmp, not os.tmpdir(): unix socket paths are limited to 108 bytes.
  const dir = mkdtempSync('/tmp/fleet-tmux-');
  const socket = join(dir, 'sock');
  const exitFile = join(dir, 'exit');
  const sttyFile = join(dir, 'stty');
  const config = join(dir, 'tmux.conf');
  // No status line: the pane is the whole screen.
  writeFileSync(config, 'set -g status off\n');
  const tmux = (...args: string[]) => execa('tmux', ['-S', socket, ...args], { env: terminalEnv(options.env ?? {}), extendEnv: false });
  // The wrapper records the exit code and the terminal modes the command left, in the same terminal, then keeps
  // the terminal as the command left it (a dead pane hides the cursor) until close().
  const wrapper = `"$@"; code=$?; stty -a > '${sttyFile}' 2>&1; echo "$code" > '${exitFile}'; exec sleep 86400`;
  await tmux('-f', config, 'new-session', '-d', '-s', 'test', '-x', String(options.width ?? 160), '-y', String(options.height ?? 50),
    ...(options.cwd ? ['-c', options.cwd] : []), '--', 'sh', '-c', wrapper, 'sh', ...options.command);
  let closed = false;

  const capture = async () => (await tmux('capture-pane', '-p', '-t', 'test')).stdout;
  const exitCode = (): number | undefined => {
    try {
      const text = readFileSync(exitFile, 'utf8').trim();
      return text === '' ? undefined : Number(text);
    } catch {
      return undefined;
    }
  };
  const withScreen = async (what: string, cond: () => boolean | Promise<boolean>, timeoutMs: number) => {
    try {
      await waitFor(what, cond, { timeoutMs });
    } catch (error) {
      throw new Error(`${(error as Error).message}\n--- screen ---\n${await capture().catch((e: Error) => `(no screen: ${e.message})`)}`);
    }
  };

  return {
    sendKeys: async (...keys) => void (await tmux('send-keys', '-t', 'test', ...keys)),
    type: async (text) => void (await tmux('send-keys', '-t', 'test', '-l', text)),
    capture,
    async waitForScreen(match, timeoutMs = 30_000) {
      let last = '';
      const test = typeof match === 'function' ? match : (s: string) => match.test(s);
      await withScreen(`the screen to match ${String(match)}`, async () => test((last = await capture())), timeoutMs);
      return last;
    },
    exitCode,
    async waitForExit(timeoutMs = 30_000) {
      await withScreen('the command to exit', () => exitCode() !== undefined, timeoutMs);
      return exitCode()!;
    },
    async modesAfterExit() {
      if (exitCode() === undefined) throw new Error('the command is still running');
      const stty = readFileSync(sttyFile, 'utf8');
      const flag = (name: string) => new RegExp(`(^|\\s)${name}(\\s|$)`).test(stty);
      const cursor = (await tmux('display-message', '-p', '-t', 'test', '#{cursor_flag}')).stdout.trim();
      return { canonical: flag('icanon'), echo: flag('echo'), cursorVisible: cursor === '1' };
    },
    async close() {
      if (closed) return;
      closed = true;
      await tmux('kill-server').catch(() => {}); // already gone: nothing to kill
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
