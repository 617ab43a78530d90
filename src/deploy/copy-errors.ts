// Nix's copy errors, turned into what the user must do about them.

/** A hint for a failed copy to `dest`, or undefined when fleet has nothing to add to Nix's words. */
export function explainCopyFailure(output: string, dest: string): string | undefined {
  if (/lacks a valid signature/.test(output)) {
    return `${dest} does not trust unsigned paths from this deployer: add its user to \`trusted-users\` in the target's nix.conf, or deploy as root`;
  }
  return undefined;
}
