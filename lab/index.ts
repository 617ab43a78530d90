// The lab: N real hosts on this machine, each a real sshd on 127.0.0.1 with its own Nix store, /run and
// host name (mount+UTS namespaces). See ../shared/LAB.md. Tests and scripts/lab.ts start it here.
// Systemd hosts (systemd-nspawn, nix-daemon, users, own addresses, reboots) live in ./systemd; `up()` starts either kind.
export { startLab, type StartLabOptions } from './light.js';
export { stateDirOf } from './lab.js';
export type { ExecResult, Lab, LabCommon, LabHost, WriteFleetOptions } from './types.js';
export type { Shape, SystemdLab, SystemdLabHost, SystemdLabOptions } from './systemd/types.js';
export { up, type LightUpOptions, type SystemdUpOptions } from './up.js';
export { upSystemdLab, downSystemdLab, readSystemdManifest, type SystemdManifest } from './systemd/lab.js';
export { ensureRootfs, rootfsPaths, ROOTFS_RECIPE } from './systemd/rootfs.js';
export { cgroupPids, hierarchies, labCgroup } from './systemd/cgroup.js';
export { writeHive, systemNix, type StandInSpec } from './hive.js';
export { startCacheServer, type CacheServer } from './cache-server.js';
export { labNixEnv } from './config-files.js';
export { findExecutable } from './which.js';
export { countGenerations, evalOutPaths, PROFILE, readActivations, instantiateStandIn, readLocks, readSystemState, readWebService, readWitness, snapshotHost, type SystemState } from './inspect.js';
export { downLab, readLabStatus } from './persisted.js';
