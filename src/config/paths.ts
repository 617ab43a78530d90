// Checks on disk for the paths a fleet file names (`nix.file`, `nix.flake`, `sshConfig`), so `check` catches them, not a deploy.
import { statSync } from 'node:fs';
import path from 'node:path';
import { describePlace } from './describe.js';
import type { Finding } from './findings.js';
import { asMap, asText, error, type RawMap } from './semantic-hosts.js';
import type { Path } from './yaml-source.js';

export type PathKind = 'file' | 'directory' | 'missing' | 'other';

/** What is at an absolute path; parseFleet takes it as a parameter so it stays pure, loadFleet passes this one. */
export type PathProbe = (abs: string) => PathKind;

/** The real file system; stat follows symlinks and never blocks, not even on a FIFO. */
export const probePath: PathProbe = (abs) => {
  try {
    const s = statSync(abs);
    return s.isFile() ? 'file' : s.isDirectory() ? 'directory' : 'other';
  } catch {
    return 'missing';
  }
};

/** Every path the file names, checked against `probe`; `dir` is the fleet file's directory. */
export function checkPaths(data: unknown, dir: string, probe: PathProbe): Finding[] {
  const root = asMap(data) ?? {};
  const findings: Finding[] = [];
  const nix = asMap(root.nix) ?? {};
  const file = asText(nix.file);
  if (file !== undefined) checkNixFile(file, dir, probe, findings);
  const flake = asText(nix.flake);
  if (flake !== undefined) checkFlake(flake, dir, probe, findings);
  checkSshConfig(['defaults', 'sshConfig'], asMap(root.defaults) ?? {}, dir, probe, findings);
  for (const section of ['nodes', 'builders'] as const) {
    for (const [name, value] of Object.entries(asMap(root[section]) ?? {})) {
      checkSshConfig([section, name, 'sshConfig'], asMap(value) ?? {}, dir, probe, findings);
    }
  }
  return findings;
}

function checkNixFile(file: string, dir: string, probe: PathProbe, findings: Finding[]): void {
  const abs = path.resolve(dir, file);
  const kind = probe(abs);
  if (kind === 'file' || (kind === 'directory' && probe(path.join(abs, 'default.nix')) === 'file')) return;
  const what = kind === 'directory' ? 'is a directory without a `default.nix`' : describeKind(kind);
  findings.push(error(['nix', 'file'], `\`nix.file\` \`${file}\` ${what} (${abs})`));
}

/** Only local flakes (`.`, `./x`, `/x`, `path:…`, `git+file:…`) are checked; `github:`, `git+https:` and registry names are not. */
function checkFlake(ref: string, dir: string, probe: PathProbe, findings: Finding[]): void {
  const local = /^(?:path:|git\+file:(?:\/\/)?)?([./][^?]*)(?:\?(.*))?$/.exec(ref);
  if (!local) return;
  const subdir = new URLSearchParams(local[2] ?? '').get('dir');
  const abs = path.resolve(dir, local[1]!, subdir ?? '');
  const kind = probe(abs);
  const fail = (what: string) => findings.push(error(['nix', 'flake'], `\`nix.flake\` \`${ref}\` ${what} (${abs})`));
  if (kind !== 'directory') fail(kind === 'file' ? 'is a file; a flake is a directory holding `flake.nix`' : describeKind(kind));
  else if (probe(path.join(abs, 'flake.nix')) !== 'file') fail('is a directory without a `flake.nix`');
}

/** `-F /dev/null` is ssh's idiom for "no config file", so it is allowed although it is a device. */
function checkSshConfig(where: Path, owner: RawMap, dir: string, probe: PathProbe, findings: Finding[]): void {
  const value = asText(owner.sshConfig);
  if (value === undefined) return;
  const abs = path.resolve(dir, value);
  const kind = probe(abs);
  if (kind === 'file' || abs === '/dev/null') return;
  const what = kind === 'directory' ? 'is a directory; ssh -F needs an ssh_config file' : describeKind(kind);
  findings.push(error(where, `${describePlace(where)} \`${value}\` ${what} (${abs})`));
}

function describeKind(kind: PathKind): string {
  return kind === 'missing' ? 'does not exist' : 'is not a regular file';
}
