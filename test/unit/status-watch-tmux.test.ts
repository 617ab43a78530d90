// The terminal harness itself (test/tmux.ts), so that the terminal UI tests built on it can fail: it sees what a
// command left behind (raw mode, hidden cursor), its exit code, its environment and working directory.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startTmux } from '../tmux.js';

test('tmux harness: screen, keys, exit code, env and cwd; CI variables removed', async (t) => {
  const tmux = await startTmux({ command: ['sh', '-c', 'echo "in $(pwd) with $GREETING ci=${CI:-none}"; read line; echo "got $line"; exit 7'], cwd: '/tmp', env: { GREETING: 'hello' }, width: 100, height: 20 });
  t.after(() => tmux.close());
  await tmux.waitForScreen(/^in \/tmp with hello ci=none$/m, 10_000);
  assert.equal(tmux.exitCode(), undefined, 'still running');
  await tmux.type('abc');
  await tmux.sendKeys('Enter');
  assert.equal(await tmux.waitForExit(10_000), 7);
  assert.match(await tmux.capture(), /^got abc$/m);
  assert.deepEqual(await tmux.modesAfterExit(), { canonical: true, echo: true, cursorVisible: true });
});

test('tmux harness: a command that leaves the terminal raw, without echo and the cursor hidden is seen doing so', async (t) => {
  const tmux = await startTmux({ command: ['sh', '-c', 'stty raw -echo; printf "\\033[?25l"; echo left'], width: 80, height: 10 });
  t.after(() => tmux.close());
  assert.equal(await tmux.waitForExit(10_000), 0);
  assert.deepEqual(await tmux.modesAfterExit(), { canonical: false, echo: false, cursorVisible: false });
});

test('tmux harness: waitForScreen says what it waited for and shows the screen', async (t) => {
  const tmux = await startTmux({ command: ['sh', '-c', 'echo nothing to see; sleep 30'], width: 80, height: 10 });
  t.after(() => tmux.close());
  await tmux.waitForScreen(/nothing to see/, 10_000);
  await assert.rejects(tmux.waitForScreen(/never/, 300), /timed out after 300 ms waiting for the screen to match \/never\/\n--- screen ---\nnothing to see/);
  await tmux.close();
  assert.equal(tmux.exitCode(), undefined, 'killed, never exited by itself');
});
