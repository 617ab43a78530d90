// A Target over a given Host (a fake or the local machine), for unit tests: the real escalation logic, no pool.
import type { ResolvedNode } from '../src/config/types.js';
import type { Host } from '../src/transport/host.js';
import { runLocal } from '../src/transport/run.js';
import { createTarget, type Target } from '../src/transport/target.js';
import { resolvedNode } from './resolved-node.js';

export function targetOver(host: Host, node: ResolvedNode = resolvedNode(host.label), sudoPassword?: string): Target {
  return createTarget({ node, host, run: runLocal, directSshOpts: [], ...(sudoPassword !== undefined ? { sudoPassword } : {}) });
}
