// A ResolvedNode as resolveFleet makes it from `host: <name>.example` and the built-in defaults; tests override fields.
import type { ResolvedNode } from '../src/config/types.js';

export function resolvedNode(name: string, extra: Partial<ResolvedNode> = {}): ResolvedNode {
  return {
    name, host: `${name}.example`, user: 'root', tags: [], buildHost: { kind: 'local' }, sshOptions: [], profile: '/nix/var/nix/profiles/system',
    privilegeEscalation: ['sudo', '-H', '--'], substituteOnDestination: false, checkSystem: true, connectTimeoutMs: 10_000, activationTimeoutMs: 600_000,
    magicRollback: true, confirmTimeoutMs: 30_000, lockTimeoutMs: 300_000, stateDir: '/var/lib/fleet', healthChecks: [], keys: [], copy: { route: 'push' }, ...extra,
  };
}
