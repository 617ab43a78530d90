// The real agent (src/agent/agent.sh, as embedded) run on this machine with stand-ins on PATH: nix-env, nix-store,
// systemd-run, and stand-in systems whose bin/switch-to-configuration moves /run/current-system. Everything runs
// in a mount namespace with its own tmpfs on /run (run dirs, locks, /run/current-system), so the agent runs
// unchanged, without a test hook, and the machine's /run is never touched. Needs root (unshare --mount).
import { execa, execaSync } from 'execa';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ResolvedNode } from '../src/config/types.js';
import { isCi } from '../src/ui/choose.js';
import { createLocalHost } from '../src/transport/local.js';
import { runLocal, type CommandResult, type RunOptions } from '../src/transport/run.js';
import { createTarget, type Target } from '../src/transport/target.js';
import { resolvedNode } from './resolved-node.js';
import { waitFor } from './poll.js';

/** `skip` for a suite that needs the sandbox: skipped locally without root, failed in CI (a skip would hide breakage). */
export function requireSandbox(): string | false {
  if (process.getuid?.() === 0) return false;
  if (isCi(process.env)) throw new Error('agent tests need root (unshare --mount) in CI');
  return 'agent tests need root (unshare --mount)';
}

const STANDINS: Record<string, string> = {
  // As Nix does: a new generation link <profile>-<N>-link next to the profile, which points at it by name.
  'nix-env': `#!/bin/sh
echo "nix-env $*" >> "$SANDBOX/calls.log"
[ "$1" = -p ] || exit 2
p=$2
case $3 in
--set)
  n=0; for l in "$p"-*-link; do [ -L "$l" ] || continue; g=\${l%-link}; g=\${g##*-}; [ "$g" -gt "$n" ] && n=$g; done
  n=$((n + 1)); ln -sfn "$4" "$p-$n-link" && ln -sfn "\${p##*/}-$n-link" "$p" ;;
--switch-generation)
  [ -L "$p-$4-link" ] || { echo "no generation $4" >&2; exit 1; }
  ln -sfn "\${p##*/}-$4-link" "$p" ;;
*) exit 2 ;;
esac
`,
  'nix-store': `#!/bin/sh
[ "$1" = --check-validity ] && [ -e "$2" ]
`,
  // Records how it was called, then starts the command detached, as a transient unit would run it.
  'systemd-run': `#!/bin/sh
for a do
  case $a in --) shift; break ;; --unit=*|--description=*) echo "$a" >> "$SANDBOX/systemd-run.log"; shift ;; *) shift ;; esac
done
setsid "$@" </dev/null >/dev/null 2>&1 &
`,
  // A reboot must never reach this machine: both ways of asking for one only say they were asked.
  systemctl: `#!/bin/sh
echo "systemctl $*" >> "$SANDBOX/reboot.log"
`,
  reboot: `#!/bin/sh
echo "reboot $*" >> "$SANDBOX/reboot.log"
`,
};

/** A stand-in system: switch/test point /run/current-system at it, switch/boot make it the boot default. */
function switchScript(variant: SystemVariant): string {
  return `#!/bin/sh
out=\${0%/bin/switch-to-configuration}
echo "$1 $out" >> "$SANDBOX/activations.log"
${variant === 'slow' ? 'sleep 2' : ''}
${variant === 'fail' ? 'echo "failing on purpose" >&2; exit 4' : ''}
case $1 in switch|test) ln -sfn "$out" /run/current-system ;; esac
case $1 in switch|boot) ln -sfn "$out" "$SANDBOX/boot-default" ;; esac
echo "activated $out ($1)"
`;
}

export type SystemVariant = 'ok' | 'slow' | 'fail';

export interface Sandbox {
  /** On the machine (seen the same inside): stand-ins, systems, profiles, state dirs, the logs of calls. */
  readonly dir: string;
  /** A node whose profile and state dir live in the sandbox; commands run inside it as root. */
  node(name: string, extra?: Partial<ResolvedNode>): ResolvedNode;
  target(node: ResolvedNode): Target;
  /** Runs argv inside the namespace (stand-ins first on PATH). */
  exec(argv: string[], options?: RunOptions): Promise<CommandResult>;
  /** A stand-in system (a directory with bin/switch-to-configuration); returns its path. */
  system(name: string, variant?: SystemVariant): string;
  readlink(path: string): Promise<string | undefined>;
  cat(path: string): Promise<string | undefined>;
  /** Lines of a log in the sandbox dir: activations.log, calls.log, systemd-run.log. */
  log(name: string): string[];
  close(): void;
}

export async function createSandbox(): Promise<Sandbox> {
  const dir = mkdtempSync(join(tmpdir(), 'fleet-agent-'));
  mkdirSync(join(dir, 'bin'));
  for (const [name, text] of Object.entries(STANDINS)) writeFileSync(join(dir, 'bin', name), text, { mode: 0o755 });
  const ready = join(dir, 'ready');
  // The namespace lives as long as this holder: every call of a test (and what the agent detaches) shares its /run.
  const holder = execa('unshare', ['--mount', '--propagation', 'private', '--', 'sh', '-c', `mount -t tmpfs tmpfs /run && touch ${ready} && exec sleep 1000000`], { reject: false, stdio: 'ignore' });
  await waitFor('the sandbox namespace', () => existsSync(ready) || holder.exitCode !== null, { everyMs: 10 });
  if (!existsSync(ready)) throw new Error(`the sandbox namespace did not start: ${(await holder).stderr}`);
  const pid = String(holder.pid);
  const env = { SANDBOX: dir, PATH: `${join(dir, 'bin')}:${process.env.PATH ?? '/usr/bin:/bin'}` };
  const inside = (argv: string[]) => ['nsenter', '-t', pid, '-m', '--', 'env', `SANDBOX=${env.SANDBOX}`, `PATH=${env.PATH}`, ...argv];
  const exec = (argv: string[], options?: RunOptions) => runLocal(inside(argv), options);
  const host = { ...createLocalHost(), label: 'sandbox', run: exec, runFresh: exec };
  const text = async (argv: string[]) => {
    const r = await exec(argv);
    return r.exitCode === 0 ? r.stdout : undefined;
  };
  return {
    dir,
    node: (name, extra = {}) => resolvedNode(name, { profile: join(dir, 'profiles', name, 'system'), stateDir: join(dir, 'state', name), ...extra }),
    target: (node) => {
      mkdirSync(join(dir, 'profiles', node.name), { recursive: true });
      return createTarget({ node, host, run: runLocal, directSshOpts: [] });
    },
    exec,
    system(name, variant = 'ok') {
      const out = join(dir, 'store', name);
      mkdirSync(join(out, 'bin'), { recursive: true });
      writeFileSync(join(out, 'bin', 'switch-to-configuration'), switchScript(variant), { mode: 0o755 });
      return out;
    },
    readlink: async (path) => (await text(['readlink', path]))?.trim(),
    cat: (path) => text(['cat', path]),
    log: (name) => {
      try {
        return execaSync('cat', [join(dir, name)]).stdout.split('\n').filter(Boolean);
      } catch {
        return [];
      }
    },
    close() {
      // Whatever the agent detached in the namespace (a watchdog still waiting) goes with it.
      const ns = readlinkSync(`/proc/${pid}/ns/mnt`);
      for (const p of readdirSync('/proc').filter((p) => /^\d+$/.test(p) && p !== pid)) {
        try {
          if (readlinkSync(`/proc/${p}/ns/mnt`) === ns) process.kill(Number(p), 'SIGKILL');
        } catch {
          // gone meanwhile
        }
      }
      holder.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
