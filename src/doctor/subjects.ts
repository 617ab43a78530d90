// Which machines doctor looks at: the selected nodes, then the builders they build on (every builder of the fleet
// file when nothing was selected), ad-hoc build hosts included. Pure.
import { formatHostSpec } from '../config/hostspec.js';
import type { Builder, HostSpec, ResolvedFleet, ResolvedNode } from '../config/types.js';

export interface NodeSubject {
  role: 'node';
  name: string;
  address: string;
  node: ResolvedNode;
}

export interface BuilderSubject {
  role: 'builder';
  name: string;
  address: string;
  /** A builder of the fleet file, or an ad-hoc build host (`buildHost: user@host`) reached with `via`'s settings. */
  builder?: Builder;
  spec?: HostSpec;
  via?: ResolvedNode;
  /** The nodes built there (by name, or for `buildHost: builders` on any builder, not listed here). */
  nodes: ResolvedNode[];
}

export type Subject = NodeSubject | BuilderSubject;

export function nodeAddress(node: ResolvedNode): string {
  return formatHostSpec({ user: node.user, host: node.host, ...(node.port !== undefined ? { port: node.port } : {}) });
}

/** all: no --on was given (every builder of the fleet file is checked, used or not). */
export function doctorSubjects(fleet: ResolvedFleet, nodes: readonly ResolvedNode[], all: boolean): Subject[] {
  const named = new Map<string, BuilderSubject>();
  const adHoc = new Map<string, BuilderSubject>();
  const builderSubject = (b: Builder): BuilderSubject => {
    let s = named.get(b.name);
    if (!s) named.set(b.name, (s = { role: 'builder', name: b.name, address: formatHostSpec(b.host), builder: b, nodes: [] }));
    return s;
  };
  if (all) for (const b of Object.values(fleet.builders)) builderSubject(b);
  for (const node of nodes) {
    const ref = node.buildHost;
    if (ref.kind === 'builder') {
      const b = fleet.builders[ref.name];
      if (b) builderSubject(b).nodes.push(node);
    } else if (ref.kind === 'builders') {
      for (const b of Object.values(fleet.builders)) builderSubject(b);
    } else if (ref.kind === 'host') {
      const key = formatHostSpec(ref.spec);
      let s = adHoc.get(key);
      if (!s) adHoc.set(key, (s = { role: 'builder', name: key, address: key, spec: ref.spec, via: node, nodes: [] }));
      s.nodes.push(node);
    }
  }
  // Builders in fleet-file order, then ad-hoc hosts in the order nodes name them.
  const builders = Object.keys(fleet.builders).flatMap((name) => named.get(name) ?? []);
  return [...nodes.map((node): NodeSubject => ({ role: 'node', name: node.name, address: nodeAddress(node), node })), ...builders, ...adHoc.values()];
}

/** The deployer's Nix hands builds to builders itself (`buildHost: builders`): its own user must be trusted then. */
export function usesNixBuilders(nodes: readonly ResolvedNode[]): boolean {
  return nodes.some((n) => n.buildHost.kind === 'builders');
}
