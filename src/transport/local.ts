// The deployer itself as a Host: builds with `buildHost: local` run here.
import type { Host } from './host.js';
import { runLocal, type RunCommand } from './run.js';

export function createLocalHost(run: RunCommand = runLocal): Host {
  return {
    label: 'local',
    isLocal: true,
    run: (argv, options) => run(argv, options),
    runFresh: (argv, options) => run(argv, options),
    connect: async () => {},
    close: async () => {},
    closeSync: () => {},
  };
}
