// Copy failures whose fix is known: Nix's own words name the symptom, not the cure; this names the cure.

/** The SSH user in a copy destination (`user@host`, `ssh://user@host`, `ssh-ng://user@[v6]`), if it names one. */
function destUser(dest: string): string | undefined {
  return /^(?:[a-z][a-z0-9+.-]*:\/\/)?([^@/[\]]+)@/i.exec(dest)?.[1];
}

function destHost(dest: string): string {
  return dest.replace(/^[a-z][a-z0-9+.-]*:\/\//i, '').replace(/^[^@/[\]]+@/, '');
}

/**
 * Explains a failed `nix-copy-closure --to dest` (its stderr) when the cause is known; undefined otherwise.
 * Known: an unsigned path refused by the target's nix-daemon because the SSH user is not trusted there
 * (Nix 2.8: "lacks a valid signature"; newer Nix and Lix: "lacks a signature by a trusted key").
 */
export function explainCopyFailure(stderr: string, dest: string): string | undefined {
  if (!/lacks a (?:valid )?signature/.test(stderr)) return undefined;
  const user = destUser(dest);
  const who = user ?? 'the SSH user';
  const quoted = user ? `"${user}"` : '"<user>"';
  return (
    `${destHost(dest)} refused the copied paths: they are not signed, and its nix-daemon does not trust ${who}. ` +
    `Fix: add ${user ? `\`${user}\`` : 'that user'} to \`trusted-users\` in the target's /etc/nix/nix.conf ` +
    `(NixOS: nix.settings.trusted-users = [ ${quoted} ]) and restart nix-daemon, or deploy as root (user: root).`
  );
}
