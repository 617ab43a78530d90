// The two hand-written contenders fleet-16 compares fleet with. Raw commands as a user would type them;
// every command's output is checked (execa rejects on failure), so a contender cannot skip work silently.
import { execa } from 'execa';
import { NIX_ENV, PROFILE } from './fleet.js';

export interface Deployment {
  hive: string; // attribute set: node -> system derivation
  sshConfig: string; // the lab's: host aliases, keys, pinned host keys
  nodes: string[];
}

function envFor(d: Deployment): Record<string, string> {
  return { ...NIX_ENV, NIX_SSHOPTS: `-F ${d.sshConfig}` };
}

/** One nix-instantiate of the hive for all nodes (as the user would): drv paths in node order. */
export async function instantiateAll(d: Deployment): Promise<string[]> {
  const r = await execa('nix-instantiate', [d.hive, ...d.nodes.flatMap((n) => ['-A', n])], { env: envFor(d) });
  const drvs = r.stdout.split('\n').filter(Boolean);
  if (drvs.length !== d.nodes.length) throw new Error(`nix-instantiate printed ${drvs.length} paths for ${d.nodes.length} nodes`);
  return drvs;
}

/** Today's loop: per node, build, copy, set the profile, switch; one node after the other. */
export async function deploySequential(d: Deployment): Promise<void> {
  const env = envFor(d);
  const drvs = await instantiateAll(d);
  for (const [i, node] of d.nodes.entries()) {
    const out = (await execa('nix-store', ['--realise', drvs[i]!], { env })).stdout.trim();
    await execa('nix-copy-closure', ['--to', node, out], { env });
    await execa('ssh', ['-F', d.sshConfig, node, 'nix-env', '-p', PROFILE, '--set', out], { env });
    await execa('ssh', ['-F', d.sshConfig, node, `${out}/bin/switch-to-configuration`, 'switch'], { env });
  }
}

/**
 * The floor: each distinct derivation built once, in one realisation, all at once (--max-jobs = their number);
 * then every node at once: its copy, then one ssh for profile + switch. Nothing checked that need not be.
 */
export async function deployFloor(d: Deployment): Promise<void> {
  const env = envFor(d);
  const drvs = await instantiateAll(d);
  const distinct = [...new Set(drvs)];
  const outs = (await execa('nix-store', ['--realise', '--max-jobs', String(distinct.length), ...distinct], { env })).stdout.split('\n').filter(Boolean);
  if (outs.length !== distinct.length) throw new Error(`nix-store --realise printed ${outs.length} paths for ${distinct.length} derivations`);
  const outOf = new Map(distinct.map((drv, i) => [drv, outs[i]!]));
  await Promise.all(
    d.nodes.map(async (node, i) => {
      const out = outOf.get(drvs[i]!)!;
      await execa('nix-copy-closure', ['--to', node, out], { env });
      // Store paths hold no shell metacharacters: the remote shell runs both steps in one session.
      await execa('ssh', ['-F', d.sshConfig, node, 'nix-env', '-p', PROFILE, '--set', out, '&&', `${out}/bin/switch-to-configuration`, 'switch'], { env });
    }),
  );
}

/**
 * The floor of a no-op run: one read-only evaluation of every node's out path, then every node asked at once,
 * one ssh each, whether its profile and running system already are that path. Throws unless all are.
 */
export async function checkUpToDateFloor(d: Deployment): Promise<void> {
  const env = envFor(d);
  const expr = `builtins.mapAttrs (_n: d: d.outPath) (import ${JSON.stringify(d.hive)})`;
  const outs = JSON.parse((await execa('nix-instantiate', ['--eval', '--strict', '--json', '-E', expr], { env })).stdout) as Record<string, string>;
  const stale = await Promise.all(
    d.nodes.map(async (node) => {
      const r = await execa('ssh', ['-F', d.sshConfig, node, 'readlink', '-f', PROFILE, '/run/current-system'], { env });
      return r.stdout.split('\n').every((line) => line.trim() === outs[node]) ? [] : [node];
    }),
  );
  if (stale.flat().length > 0) throw new Error(`not up to date: ${stale.flat().join(', ')}`);
}
