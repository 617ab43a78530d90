import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { PassThrough } from 'node:stream';
import { test } from 'node:test';
import { checkPasswordEscalation, readSudoPassword, sudoPasswordFor } from '../../src/cli/password.js';
import type { PasswordTerminal } from '../../src/terminal.js';
import type { CliIo } from '../../src/cli/io.js';
import type { ResolvedNode } from '../../src/config/types.js';
import { privileged } from '../../src/transport/target.js';

function io(env: Record<string, string> = {}): CliIo & { err: () => string } {
  const stderr = new PassThrough();
  let text = '';
  stderr.on('data', (c: Buffer) => (text += c.toString()));
  return { stdout: new PassThrough(), stderr, env, cwd: '/', err: () => text };
}

class FakeTerminal extends EventEmitter implements PasswordTerminal {
  isTTY = true;
  raw: boolean[] = [];
  setRawMode(raw: boolean) { this.raw.push(raw); }
  resume() {}
  pause() {}
}

test('FLEET_SUDO_PASSWORD_FILE: the file\'s one trailing newline is not part of the password', async () => {
  const dir = await mkdtemp(`${tmpdir()}/pw-`);
  await writeFile(`${dir}/pw`, 's3cret pass\n');
  assert.equal(await readSudoPassword(false, io({ FLEET_SUDO_PASSWORD_FILE: `${dir}/pw` }), undefined), 's3cret pass');
  await assert.rejects(readSudoPassword(false, io({ FLEET_SUDO_PASSWORD_FILE: `${dir}/missing` }), undefined), { name: 'UsageError', message: `FLEET_SUDO_PASSWORD_FILE: cannot read ${dir}/missing: ENOENT` });
  assert.equal(await readSudoPassword(false, io(), undefined), undefined, 'no password unless asked for');
});

test('--ask-sudo-password needs a terminal; it reads without echo, honours backspace, Ctrl+C gives up', async () => {
  await assert.rejects(readSudoPassword(true, io(), undefined), { name: 'UsageError', message: '--ask-sudo-password needs a terminal to ask on; in CI put the password in a file and set FLEET_SUDO_PASSWORD_FILE' });
  const terminal = new FakeTerminal();
  const cli = io();
  const asked = readSudoPassword(true, cli, terminal);
  terminal.emit('data', Buffer.from('hunter3\u007f2'));
  terminal.emit('data', Buffer.from('\r'));
  assert.equal(await asked, 'hunter2');
  assert.deepEqual(terminal.raw, [true, false], 'raw mode on while typing, off after');
  assert.equal(cli.err(), 'sudo password for the targets: \n', 'nothing typed is echoed');
  const cancelled = readSudoPassword(true, io(), terminal);
  terminal.emit('data', Buffer.from('ab\u0003'));
  await assert.rejects(cancelled, { name: 'UsageError', message: 'no sudo password given (Ctrl+C)' });
});

test('the password goes to sudo -S on stdin, never into argv; root needs none', () => {
  const deploy = { user: 'deploy', privilegeEscalation: ['sudo', '-H', '--'] };
  assert.deepEqual(privileged(deploy, ['true'], 'pw'), { argv: ['sudo', '-S', '-p', '', '-H', '--', 'true'], input: 'pw\n' });
  assert.deepEqual(privileged(deploy, ['true']), { argv: ['sudo', '-H', '--', 'true'] });
  assert.deepEqual(privileged({ user: 'root', privilegeEscalation: ['sudo'] }, ['true'], 'pw'), { argv: ['true'] });
  assert.throws(() => checkPasswordEscalation([{ name: 'a', user: 'deploy', privilegeEscalation: ['doas'] } as ResolvedNode]), {
    name: 'UsageError', message: 'a sudo password was given, but a escalate with doas, not sudo',
  });
});

test('sudoPasswordFor: a password given for nodes that escalate with doas is refused before anything starts (plan and status too)', async () => {
  const dir = await mkdtemp(`${tmpdir()}/fleet-pw-`);
  await writeFile(`${dir}/pw`, 'secret\n');
  const doas = [{ name: 'a', user: 'deploy', privilegeEscalation: ['doas'] } as ResolvedNode];
  const sudo = [{ name: 'b', user: 'deploy', privilegeEscalation: ['sudo', '-H', '--'] } as ResolvedNode];
  await assert.rejects(sudoPasswordFor(doas, false, io({ FLEET_SUDO_PASSWORD_FILE: `${dir}/pw` })), { name: 'UsageError', message: 'a sudo password was given, but a escalate with doas, not sudo' });
  assert.equal(await sudoPasswordFor(sudo, false, io({ FLEET_SUDO_PASSWORD_FILE: `${dir}/pw` })), 'secret');
  assert.equal(await sudoPasswordFor(doas, false, io()), undefined, 'no password, nothing to refuse');
});
