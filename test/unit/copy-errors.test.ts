// Known copy failures get a message that names the fix; unknown ones are left to Nix's own words.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { explainCopyFailure } from '../../src/copy/copy-errors.js';

// Captured from nix-copy-closure (Nix 2.8) to a systemd lab host whose nix-daemon does not trust `deploy`.
const NIX_28 = [
  'copying 1 paths...',
  "copying path '/nix/store/vlklyp31886f4p5l2b9js6b1hbr7b1cc-fleet-lab-system-cap' to 'ssh://n1-deploy'...",
  "error: cannot add path '/nix/store/vlklyp31886f4p5l2b9js6b1hbr7b1cc-fleet-lab-system-cap' because it lacks a valid signature",
  'error: unexpected end-of-file',
].join('\n');
// The same refusal worded by current Nix and Lix.
const NIX_NEW = "error: cannot add path '/nix/store/abc-x' because it lacks a signature by a trusted key";

test('an untrusted user: the whole message names the user, the setting and the alternative', () => {
  assert.equal(
    explainCopyFailure(NIX_28, 'deploy@198.18.1.5'),
    '198.18.1.5 refused the copied paths: they are not signed, and its nix-daemon does not trust deploy. ' +
      "Fix: add `deploy` to `trusted-users` in the target's /etc/nix/nix.conf " +
      '(NixOS: nix.settings.trusted-users = [ "deploy" ]) and restart nix-daemon, or deploy as root (user: root).',
  );
});

test('the newer wording, an ssh-ng:// destination with a bracketed IPv6 host', () => {
  const text = explainCopyFailure(NIX_NEW, 'ssh-ng://ops@[fd66:6c65:1::2]');
  assert.match(text ?? '', /^\[fd66:6c65:1::2\] refused the copied paths: .* does not trust ops\. Fix: add `ops` to `trusted-users`/);
  assert.match(text ?? '', /trusted-users = \[ "ops" \]/);
});

test('a destination without a user (an ssh_config alias) still names the fix', () => {
  const text = explainCopyFailure(NIX_28, 'web-1');
  assert.match(text ?? '', /^web-1 refused .* does not trust the SSH user\. Fix: add that user to `trusted-users`/);
  assert.match(text ?? '', /trusted-users = \[ "<user>" \]/);
});

test('other failures are not explained', () => {
  assert.equal(explainCopyFailure('ssh: connect to host 198.18.1.5 port 22: Connection refused\nerror: unexpected end-of-file', 'deploy@198.18.1.5'), undefined);
  assert.equal(explainCopyFailure("error: writing to file: No space left on device", 'root@web-1'), undefined);
  assert.equal(explainCopyFailure('', 'deploy@web-1'), undefined);
});
