// Command forms: fleet uses only what Debian's Nix 2.8, current Nix and Lix all have (nix-instantiate
// --eval --read-write-mode, nix-store --realise, nix-copy-closure, nix-env --set), so it needs no
// version detection; only flakes need an opt-in flag, which every one of them accepts.

/** Options that turn flakes on; harmless where they are already on. */
export function flakeOptions(): string[] {
  return ['--option', 'extra-experimental-features', 'nix-command flakes'];
}
