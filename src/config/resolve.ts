// Raw fleet file (schema-types) → ResolvedFleet: a node's value, else `defaults`, else the built-in default.
import path from 'node:path';
import type { Diagnostic } from '../errors.js';
import { parseBuildHost } from './buildhost.js';
import { parseDuration } from './duration.js';
import { parseHostSpec } from './hostspec.js';
import { parseAmount, parsePause } from './amount.js';
import { mergeKeys, resolveKeys } from './keys.js';
import { parseMemorySetting } from './memory.js';
import type { HealthCheck as RawHealthCheck, Builder as RawBuilder, FleetFile, Node as RawNode, NodeDefaults, Rollout as RawRollout } from './schema-types.js';
import type { Amount, Builder, CacheConfig, HealthCheck, ResolvedFleet, ResolvedNode, RolloutConfig } from './types.js';
import { resolveCache, resolveCopy } from './cache.js';

/** Built-in defaults; a unit test keeps them equal to the schema's `default` annotations. */
export const NODE_DEFAULTS = {
  user: 'root',
  tags: [] as string[],
  buildHost: 'local',
  sshOptions: [] as string[],
  profile: '/nix/var/nix/profiles/system',
  privilegeEscalation: ['sudo', '-H', '--'],
  substituteOnDestination: false,
  checkSystem: true,
  connectTimeout: '10s',
  activationTimeout: '10m',
  magicRollback: true,
  confirmTimeout: '30s',
  lockTimeout: '5m',
  stateDir: '/var/lib/fleet',
  healthChecks: [] as RawHealthCheck[],
  copy: 'push',
} satisfies Required<Omit<NodeDefaults, 'system' | 'sshConfig' | 'keys'>>;

export const BUILDER_DEFAULTS = { maxJobs: 1, speedFactor: 1, supportedFeatures: [] as string[], mandatoryFeatures: [] as string[], sshOptions: [] as string[] };
export const FLEET_DEFAULTS = { allowApplyAll: true, buildersUseSubstitutes: false };
/** One wave of every node, no failure allowed, roll the failed wave back, no pause. */
export const ROLLOUT_DEFAULTS = { waves: ['100%'], order: [] as string[], maxFailures: 0, onFailure: 'rollback-wave', pause: '0s' } satisfies Required<RawRollout>;
export const HEALTH_CHECK_DEFAULTS = { expectStatus: 200, timeout: '10s', retries: 3, interval: '2s' } satisfies Partial<RawHealthCheck>;

/** Assumes the file passed the schema and semantic checks (host specs parse, builders exist). */
export function resolveFleet(raw: FleetFile, file: string, warnings: Diagnostic[]): ResolvedFleet {
  const abs = path.resolve(file);
  const dir = path.dirname(abs);
  const builderNames = Object.keys(raw.builders ?? {});
  const builders: Record<string, Builder> = {};
  for (const [name, b] of Object.entries(raw.builders ?? {})) if (b) builders[name] = resolveBuilder(name, b, raw.defaults ?? {}, dir);
  const nodes: Record<string, ResolvedNode> = {};
  const cache = raw.cache !== undefined ? resolveCache(raw.cache, dir) : undefined;
  for (const [name, n] of Object.entries(raw.nodes)) if (n) nodes[name] = resolveNode(name, n, raw, builderNames, dir, cache);
  const source = 'file' in raw.nix ? { file: path.resolve(dir, raw.nix.file) } : { flake: resolveFlakeRef(raw.nix.flake, dir) };
  const nix = { ...source, ...(raw.nix.evalMemory !== undefined && { evalMemory: parseMemorySetting(raw.nix.evalMemory)! }) };
  return {
    file: abs,
    dir,
    nix,
    allowApplyAll: raw.allowApplyAll ?? FLEET_DEFAULTS.allowApplyAll,
    buildersUseSubstitutes: raw.buildersUseSubstitutes ?? FLEET_DEFAULTS.buildersUseSubstitutes,
    builders,
    nodes,
    ...(raw.rollout !== undefined && { rollout: resolveRollout(raw.rollout) }),
    ...(cache !== undefined && { cache }),
    warnings,
  };
}

/** The schema and semantic checks accepted every value, so each parses. */
export function resolveRollout(raw: RawRollout): RolloutConfig {
  const amount = (value: number | string, min: number): Amount => parseAmount(value, min)!;
  return {
    waves: (raw.waves ?? ROLLOUT_DEFAULTS.waves).map((w) => amount(w, 1)),
    order: [...(raw.order ?? ROLLOUT_DEFAULTS.order)],
    maxFailures: amount(raw.maxFailures ?? ROLLOUT_DEFAULTS.maxFailures, 0),
    onFailure: raw.onFailure ?? 'rollback-wave',
    pause: parsePause(raw.pause ?? ROLLOUT_DEFAULTS.pause),
  };
}

function resolveHealthCheck(c: RawHealthCheck): HealthCheck {
  const common = {
    name: c.name,
    timeoutMs: parseDuration(c.timeout ?? HEALTH_CHECK_DEFAULTS.timeout),
    retries: c.retries ?? HEALTH_CHECK_DEFAULTS.retries,
    intervalMs: parseDuration(c.interval ?? HEALTH_CHECK_DEFAULTS.interval),
  };
  if (c.command) return { ...common, kind: 'command', command: [...c.command] };
  const expect = { expectStatus: c.expectStatus ?? HEALTH_CHECK_DEFAULTS.expectStatus, ...(c.expectBody !== undefined && { expectBody: c.expectBody }) };
  return { ...common, kind: 'http', url: c.http!, ...expect };
}

/** A builder inherits the fleet-wide SSH settings of `defaults` (user, sshOptions, sshConfig) unless it sets its own. */
function resolveBuilder(name: string, b: RawBuilder, d: NodeDefaults, dir: string): Builder {
  const spec = parseHostSpec(b.host);
  const port = spec.port ?? b.port;
  const user = spec.user ?? b.user ?? d.user;
  const sshConfig = b.sshConfig ?? d.sshConfig;
  return {
    name,
    host: { ...(user !== undefined && { user }), host: spec.host, ...(port !== undefined && { port }) },
    systems: [...(b.systems ?? [])],
    maxJobs: b.maxJobs ?? BUILDER_DEFAULTS.maxJobs,
    speedFactor: b.speedFactor ?? BUILDER_DEFAULTS.speedFactor,
    supportedFeatures: [...(b.supportedFeatures ?? BUILDER_DEFAULTS.supportedFeatures)],
    mandatoryFeatures: [...(b.mandatoryFeatures ?? BUILDER_DEFAULTS.mandatoryFeatures)],
    ...(b.publicHostKey !== undefined && { publicHostKey: b.publicHostKey }),
    sshOptions: [...(b.sshOptions ?? d.sshOptions ?? BUILDER_DEFAULTS.sshOptions)],
    ...(sshConfig !== undefined && { sshConfig: path.resolve(dir, sshConfig) }),
    // Like the other fleet-wide SSH settings of `defaults`: a slow network is slow for builders too.
    connectTimeoutMs: parseDuration(d.connectTimeout ?? NODE_DEFAULTS.connectTimeout),
  };
}

function resolveNode(name: string, n: RawNode, raw: FleetFile, builderNames: string[], dir: string, cache: CacheConfig | undefined): ResolvedNode {
  const d = raw.defaults ?? {};
  const spec = parseHostSpec(n.host);
  const tags = [...(n.tags ?? d.tags ?? NODE_DEFAULTS.tags)];
  const port = spec.port ?? n.port;
  const system = n.system ?? d.system;
  const sshConfig = n.sshConfig ?? d.sshConfig;
  return {
    name,
    host: spec.host,
    ...(port !== undefined && { port }),
    user: spec.user ?? n.user ?? d.user ?? NODE_DEFAULTS.user,
    tags,
    buildHost: parseBuildHost(n.buildHost ?? d.buildHost ?? NODE_DEFAULTS.buildHost, builderNames),
    sshOptions: [...(n.sshOptions ?? d.sshOptions ?? NODE_DEFAULTS.sshOptions)],
    ...(n.attr !== undefined && { attr: n.attr }),
    ...(system !== undefined && { system }),
    profile: n.profile ?? d.profile ?? NODE_DEFAULTS.profile,
    privilegeEscalation: [...(n.privilegeEscalation ?? d.privilegeEscalation ?? NODE_DEFAULTS.privilegeEscalation)],
    substituteOnDestination: n.substituteOnDestination ?? d.substituteOnDestination ?? NODE_DEFAULTS.substituteOnDestination,
    checkSystem: n.checkSystem ?? d.checkSystem ?? NODE_DEFAULTS.checkSystem,
    ...(sshConfig !== undefined && { sshConfig: path.resolve(dir, sshConfig) }),
    connectTimeoutMs: parseDuration(n.connectTimeout ?? d.connectTimeout ?? NODE_DEFAULTS.connectTimeout),
    activationTimeoutMs: parseDuration(n.activationTimeout ?? d.activationTimeout ?? NODE_DEFAULTS.activationTimeout),
    magicRollback: n.magicRollback ?? d.magicRollback ?? NODE_DEFAULTS.magicRollback,
    confirmTimeoutMs: parseDuration(n.confirmTimeout ?? d.confirmTimeout ?? NODE_DEFAULTS.confirmTimeout),
    lockTimeoutMs: parseDuration(n.lockTimeout ?? d.lockTimeout ?? NODE_DEFAULTS.lockTimeout),
    stateDir: n.stateDir ?? d.stateDir ?? NODE_DEFAULTS.stateDir,
    healthChecks: (n.healthChecks ?? d.healthChecks ?? NODE_DEFAULTS.healthChecks).map(resolveHealthCheck),
    keys: resolveKeys(mergeKeys(n.keys, tags, raw.tagDefaults ?? {}, d.keys), dir),
    copy: resolveCopy(n.copy ?? tags.map((t) => raw.tagDefaults?.[t]?.copy).find((c) => c !== undefined) ?? d.copy ?? NODE_DEFAULTS.copy, cache),
  };
}

/** Local flake paths (`.`, `./x`, `../x`, `path:./x`) become absolute; other references pass unchanged. */
export function resolveFlakeRef(ref: string, dir: string): string {
  if (/^\.\.?(\/|$)/.test(ref)) return path.resolve(dir, ref);
  const prefixed = /^(path|git\+file):(\.\.?(\/.*)?)$/.exec(ref);
  if (prefixed) return `${prefixed[1]}:${path.resolve(dir, prefixed[2]!)}`;
  return ref;
}
