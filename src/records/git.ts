// The git revision of the repository holding the fleet file, once per run: never an error (no git, not a
// repository, a repository git refuses to read: `unknown`).
import type { RunCommand } from '../transport/run.js';
import type { GitRevision } from './record.js';

export const UNKNOWN_REVISION: GitRevision = { rev: 'unknown' };

export async function gitRevision(dir: string, run: RunCommand): Promise<GitRevision> {
  try {
    const head = await run(['git', '-C', dir, 'rev-parse', '--verify', '--quiet', 'HEAD'], { timeoutMs: 30_000 });
    const rev = head.stdout.trim();
    if (head.failed || !/^[0-9a-f]{40,64}$/.test(rev)) return UNKNOWN_REVISION;
    // Tracked files only, as Nix flakes and `git describe --dirty` count it: untracked files are not in the flake.
    const status = await run(['git', '-C', dir, 'status', '--porcelain', '--untracked-files=no'], { timeoutMs: 60_000 });
    return status.failed ? { rev } : { rev, dirty: status.stdout.trim() !== '' };
  } catch {
    return UNKNOWN_REVISION;
  }
}
