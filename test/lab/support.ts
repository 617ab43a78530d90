// Helpers for lab tests: start a lab around a suite, and refuse to pretend when the machine cannot host one.
import { execaSync } from 'execa';
import { findExecutable, startLab, type Lab, type StartLabOptions } from '../../lab/index.js';
import { isCi } from '../../src/ui/choose.js';

export type { Lab } from '../../lab/index.js';

const requiredTools = ['unshare', 'nsenter', 'sshd', 'ssh', 'ssh-keygen', 'nix-store', 'nix-instantiate', 'nix-copy-closure', 'nix-env'];

/** Why this machine cannot run lab tests, or undefined when it can. */
function findLabBlocker(): string | undefined {
  if (process.getuid?.() !== 0) return 'lab tests need root (namespaces, bind mounts)';
  const missing = requiredTools.filter((t) => !findExecutable(t));
  if (missing.length > 0) return `lab tests need ${missing.join(', ')} (apt-get install nix-bin openssh-server)`;
  const probe = execaSync('unshare', ['--mount', '--uts', '--fork', 'true'], { reject: false });
  if (probe.exitCode !== 0) return `unshare --mount --uts does not work here: ${probe.stderr.trim()}`;
  return undefined;
}

/**
 * The `skip` option for a lab suite: `describe('x', { skip: requireLabCapable() }, () => ...)`.
 * A machine that cannot host the lab skips locally, but fails in CI (CI=true): a skipped lab test there hides breakage.
 */
export function requireLabCapable(): string | false {
  const blocker = findLabBlocker();
  if (blocker === undefined) return false;
  if (isCi(process.env)) throw new Error(`lab tests cannot run in CI: ${blocker}`);
  return blocker;
}

type HookFn = () => unknown;
export interface HookScope {
  before(fn: HookFn): void;
  after(fn: HookFn): void;
}

/**
 * Starts a lab in `before` and stops and removes it in `after` (which node:test runs even when tests fail).
 * scope: node:test's `{ before, after }` inside a describe, or a test context `t`.
 */
export function useLab(scope: HookScope, names: string[], opts: Omit<StartLabOptions, 'names'> = {}): { readonly lab: Lab } {
  let lab: Lab | undefined;
  scope.before(async () => {
    lab = await startLab({ names, ...opts });
  });
  scope.after(async () => {
    // FLEET_LAB_KEEP=1 keeps the hosts' files (logs, stores) for a post-mortem.
    const keep = process.env.FLEET_LAB_KEEP === '1';
    await lab?.stop({ remove: !keep });
    if (keep && lab) console.error(`lab kept in ${lab.dir}`);
  });
  return {
    get lab(): Lab {
      if (!lab) throw new Error('the lab is not running (its before hook failed or has not run)');
      return lab;
    },
  };
}
