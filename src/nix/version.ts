// Which Nix is this? Debian's 2.8, current Nix and Lix all run the same legacy commands;
// only flakes need an opt-in flag, which every one of them accepts.
import type { RunCommand } from '../transport/run.js';

export interface NixVersion {
  implementation: 'nix' | 'lix';
  major: number;
  minor: number;
  text: string;
}

export function parseNixVersion(text: string): NixVersion {
  const match = /(\d+)\.(\d+)/.exec(text);
  if (!match) throw new Error(`cannot read a Nix version from: ${text.trim() || '(nothing)'}`);
  return { implementation: /lix/i.test(text) ? 'lix' : 'nix', major: Number(match[1]), minor: Number(match[2]), text: text.trim() };
}

export async function detectNixVersion(run: RunCommand): Promise<NixVersion> {
  const r = await run(['nix', '--version']);
  if (r.failed) throw new Error(`nix is not usable here: ${r.message}\n${r.stderr}`);
  return parseNixVersion(r.stdout);
}

/** Options that turn flakes on; harmless where they are already on. */
export function flakeOptions(): string[] {
  return ['--option', 'extra-experimental-features', 'nix-command flakes'];
}
