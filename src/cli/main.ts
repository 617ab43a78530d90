// The command line: commander parses, commands run, errors become exit codes. The only exit is here.
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { parseDuration } from '../config/duration.js';
import { COPY_VALUES } from '../config/cache.js';
import { MEMORY_SETTING_HELP, parseMemorySetting } from '../config/memory.js';
import type { MemorySetting } from '../config/types.js';
import { ConfigError, ExitCode, formatDiagnostic, UsageError } from '../errors.js';
import { GOALS, isGoal, type Goal } from '../goal.js';
import { ON_FAILURE_MODES, parseMaxFailuresFlag, parseWavesFlag } from '../rollout/flags.js';
import { DEFAULT_PROBE_PARALLEL } from '../transport/limits.js';
import { fleetVersion } from '../version.js';
import type { CliIo } from './io.js';
import { createSession, type Session } from './session.js';

export const EXIT_CODES_HELP = `
Exit codes:
  0    every node succeeded or was already up to date
  1    some nodes failed, and were cleanly rolled back or never touched
  2    usage or fleet file error (nothing was touched)
  3    at least one node could not be rolled back, or its state is unknown: look at it
  130  interrupted (Ctrl+C / SIGTERM / SIGHUP); nodes are on their old or their new generation
       (a second Ctrl+C quits at once: exit 3 if activations were running)`;

/** Plain decimal digits only: Number() would also take `1e1` (10), `0x10` (16) or ` 5 `, and a generation
 *  number must mean exactly what was typed. */
function parsePositive(value: string): number {
  const n = /^[0-9]+$/.test(value) ? Number(value) : NaN;
  if (!Number.isSafeInteger(n) || n < 1) throw new InvalidArgumentError('must be a whole number of at least 1');
  return n;
}

function parseDurationOption(value: string): number {
  try {
    return parseDuration(value);
  } catch (error) {
    throw new InvalidArgumentError((error as Error).message);
  }
}

function parseMaxJobs(value: string): number | 'auto' {
  return value === 'auto' ? 'auto' : parsePositive(value);
}

function parseEvalMemory(value: string): MemorySetting {
  const setting = parseMemorySetting(value);
  if (!setting) throw new InvalidArgumentError(`must be ${MEMORY_SETTING_HELP}`);
  return setting;
}

// The options of every command that evaluates (apply, plan, diff, status).
const evalMemoryOption = () =>
  new Option('--eval-memory <size|auto>', 'memory all Nix evaluator processes together may use (overrides nix.evalMemory; default auto: available memory less 1G), e.g. 1500M, 4G, 50%').argParser(parseEvalMemory);
const evalWorkersOption = () =>
  new Option('--eval-workers <n|auto>', 'Nix evaluator processes at once (default auto: one per CPU, fewer when the memory budget cannot hold them)').argParser(parseMaxJobs);

export function buildProgram(io: CliIo, signal: AbortSignal, setExit: (code: number) => void, session?: Session): Command {
  const program = new Command('fleet')
    .description('Declarative deployer for fleets of NixOS and Nix machines.')
    .version(fleetVersion(), '-V, --version')
    .option('-f, --file <path>', 'fleet file (default: $FLEET_FILE, else ./fleet.yaml)')
    .showHelpAfterError('(run with --help for usage)')
    .addHelpText('after', EXIT_CODES_HELP)
    .configureOutput({ writeOut: (s) => io.stdout.write(s), writeErr: (s) => io.stderr.write(s) })
    .exitOverride();
  const file = () => program.opts<{ file?: string }>();
  const goalArgument = (cmd: Command, defaultGoal: Goal) =>
    cmd.argument('[goal]', `one of ${GOALS.join(', ')}`, (value: string) => {
      if (!isGoal(value)) throw new InvalidArgumentError(`unknown goal; expected one of ${GOALS.join(', ')}`);
      return value;
    }, defaultGoal);

  program
    .command('check')
    .description('validate the fleet file; every problem as FILE:LINE:COL: message')
    .option('--json', 'print {file, ok, diagnostics} as JSON')
    .addHelpText('after', '\nExamples:\n  fleet check\n  fleet -f fleets/prod.yaml check --json')
    .action(async (options: { json?: boolean }) => setExit(await (await import('./commands/check.js')).runCheck({ ...file(), ...options }, io)));

  program
    .command('nodes')
    .description('list the selected nodes with host, port, user, tags and build host')
    .option('--on <selector>', 'nodes to list (see "Selectors" below)')
    .option('--json', 'print {nodes: [...]} as JSON')
    .addHelpText('after', SELECTOR_HELP + '\n\nExamples:\n  fleet nodes --on tag:web\n  fleet nodes --on "@eu-*,&tag:db,!db-3" --json')
    .action(async (options: { on?: string; json?: boolean }) => setExit(await (await import('./commands/nodes.js')).runNodes({ ...file(), ...options }, io)));

  goalArgument(program.command('plan'), 'switch')
    .description('evaluate and show what apply would do: builds per build host, copies, activations (read-only)')
    .option('--on <selector>', 'nodes to plan for')
    .option('--json', 'print the plan as JSON')
    .addOption(new Option('--format <format>', 'text (default), json (as --json), or markdown: a pull-request comment (GitHub/GitLab) with a marker line to update it by').choices(['text', 'json', 'markdown']))
    .option('--exit-code', 'exit 1 when apply would change a node (0: nothing to do), for CI jobs that deploy only when needed')
    .option('--force', 'plan activations even for nodes already up to date')
    .addOption(copyOption())
    .option('--show-trace', 'pass --show-trace to Nix')
    .option('--ask-sudo-password', 'ask for the sudo password of non-root targets, to compare their keys (root\'s to read) by hash (CI: FLEET_SUDO_PASSWORD_FILE)')
    .addOption(evalMemoryOption())
    .addOption(evalWorkersOption())
    .addOption(probeParallelOption())
    .option('--waves <sizes>', 'show the waves of a staged rollout with these sizes (overrides rollout.waves): nodes or % of the selected nodes, e.g. 1,5,20%', parseWavesFlag)
    .option('--max-failures <n|p%>', 'failed nodes each wave may have (overrides rollout.maxFailures), e.g. 1 or 10%', parseMaxFailuresFlag)
    .addHelpText('after', '\nExit codes of plan: 0 every node planned (with --exit-code: and none would change), 1 some node could not be\nplanned (with --exit-code: or some node would change), 2 usage.\n\nExamples:\n  fleet plan --on tag:web\n  fleet plan boot --json\n  fleet plan --waves 1,5,20%\n  fleet plan --format markdown > plan.md\n  fleet plan --exit-code || fleet apply --yes')
    .action(async (goal: Goal, options: object) => setExit(await (await import('./commands/plan.js')).runPlan(goal, { ...file(), ...options }, io, signal, session)));

  goalArgument(program.command('diff'), 'switch')
    .description('show what a deploy would change in each closure: packages added, removed, changed (old → new version) and the size delta; nodes alike are grouped (builds the new systems where the plan builds them; targets are only read)')
    .option('--on <selector>', 'nodes to compare')
    .option('--json', 'NDJSON events on stdout: one diff event per group of nodes, then a summary')
    .addOption(new Option('--format <format>', 'text (default), json (as --json), or markdown: a pull-request comment (GitHub/GitLab) with a marker line to update it by').choices(['text', 'json', 'markdown']))
    .option('-j, --max-jobs <n>', 'builds at once on the deployer and on targets (default: auto, one per CPU; builders use their maxJobs)', parseMaxJobs)
    .option('--show-trace', 'pass --show-trace to Nix')
    .addOption(evalMemoryOption())
    .addOption(evalWorkersOption())
    .addOption(probeParallelOption())
    .addHelpText('after', `\nGoals: switch (default) and test compare with /run/current-system, boot with the profile; push and\ndry-activate as switch. build is refused (it asks no target).\n\nExit codes of diff: 0 every node compared, 1 some node could not be (unreachable, build failed), 2 usage.\n${SELECTOR_HELP}\n\nExamples:\n  fleet diff --on tag:web\n  fleet diff --format markdown > diff.md\n  fleet diff boot --json | jq -c 'select(.type == "diff") | {nodes, changed}'`)
    .action(async (goal: Goal, options: object) => setExit(await (await import('./commands/diff.js')).runDiff(goal, { ...file(), ...options }, io, signal, session)));

  program
    .command('status')
    .description('what each node runs against what the fleet file wants: in-sync, outdated, drifted, pending-reboot, keys-missing, keys-outdated, unreachable or locked, with its last deploy (commit, who, when); read-only')
    .option('--on <selector>', 'nodes to ask')
    .option('--json', 'NDJSON events on stdout: one status event per node, then a summary')
    .addOption(new Option('--format <format>', 'text (default), json (as --json), or prometheus: the text exposition format, for node_exporter\'s textfile directory or a Pushgateway').choices(['text', 'json', 'prometheus']))
    .option('--exit-code', 'exit 1 when any node is not in-sync (a drift alarm for CI)')
    .option('--show-trace', 'pass --show-trace to Nix')
    .addOption(evalMemoryOption())
    .addOption(evalWorkersOption())
    .addOption(probeParallelOption())
    .option('--watch', 'redraw the table in place, refreshed every --interval, until q (exit 0) or Ctrl+C (exit 130); needs a terminal')
    .option('--interval <duration>', 'with --watch: time between refreshes (default 5s), e.g. 2s or 1m', parseDurationOption)
    .option('--ask-sudo-password', 'ask for the sudo password of non-root targets, to compare their keys (root\'s to read) by hash (CI: FLEET_SUDO_PASSWORD_FILE)')
    .addHelpText('after', `\nStates:\n  in-sync         runs the desired system\n  outdated        runs the system of an earlier fleet deploy\n  drifted         runs a system no fleet record names (changed by hand or by another tool)\n  pending-reboot  the desired system waits for a reboot (a boot deploy, or a new kernel)\n  keys-missing    runs the desired system, but some of its keys are missing (fleet keys uploads them)\n  keys-outdated   runs the desired system, but some keys differ or should be gone (fleet keys updates them)\n  unreachable     could not be asked\n  locked          another run is deploying it\n\nExit codes of status: 0 every node asked, 1 some node unreachable or not evaluated (with --exit-code: or not in-sync), 2 usage.\nExit codes of status --watch: 0 on q, 130 on Ctrl+C, 2 usage (no terminal, --json).\n${SELECTOR_HELP}\n\nExamples:\n  fleet status\n  fleet status --on tag:web --exit-code\n  fleet status --watch --interval 10s\n  fleet status --format prometheus | curl --data-binary @- $PUSHGATEWAY/metrics/job/fleet_status\n  fleet status --json | jq -c 'select(.type == "status") | {node, state, rev: .lastDeploy.rev}'`)
    .action(async (options: object) => setExit(await (await import('./commands/status.js')).runStatus({ ...file(), ...options }, io, signal, session)));

  program
    .command('doctor')
    .description('check, read-only and in parallel, that the deployer, every selected node and every builder they use are ready for a deploy: per check ok, or what is wrong and the exact fix')
    .option('--on <selector>', 'nodes to check (default: all, and every builder; with --on, the builders those nodes use)')
    .option('--json', 'NDJSON events on stdout: doctor-start, one doctor-check per check, doctor-summary')
    .option('--ask-sudo-password', 'ask for the sudo password of non-root targets and check sudo with it (CI: FLEET_SUDO_PASSWORD_FILE)')
    .addHelpText('after', DOCTOR_HELP + SELECTOR_HELP + '\n\nExamples:\n  fleet doctor\n  fleet doctor --on tag:web\n  fleet doctor --on db-1 --ask-sudo-password\n  fleet doctor --json | jq -r \'select(.type == "doctor-check" and .status == "fail") | "\\(.host) \\(.check): \\(.fix)"\'')
    .action(async (options: object) => setExit(await (await import('./commands/doctor.js')).runDoctor({ ...file(), ...options }, io, signal)));

  program
    .command('exec')
    .description('run one command on the selected nodes (argv after --, no shell), --parallel at once, each bounded by --timeout on the node itself; output prefixed by node, a summary by exit code')
    .argument('[command...]', 'the command and its arguments, after -- (run as an argv: no shell parses it)')
    .option('--on <selector>', 'nodes to run it on (default: all, unless the fleet sets allowApplyAll: false)')
    .option('-p, --parallel <n>', 'nodes at once', parsePositive, 10)
    .option('--shell <text>', 'run one shell line instead (sh -c TEXT on each node): pipes, globs, redirections')
    .option('--sudo', 'run it privileged, through each node\'s privilegeEscalation (as activation does)')
    .option('--timeout <duration>', 'per node, e.g. 30s or 5m: the node itself ends the command (SIGTERM, SIGKILL 5 s later)', parseDurationOption)
    .option('--group', 'print each node\'s whole output as one block when it ends, instead of line by line')
    .option('--json', 'NDJSON events on stdout: exec-start, exec-output per line, exec-done per node, exec-summary')
    .option('--waves <sizes>', 'staged: wave sizes in nodes or % of the selected nodes, the last repeating (order: rollout.order), e.g. 1,10%', parseWavesFlag)
    .option('--max-failures <n|p%>', 'staged: nodes of a wave that may fail before the later waves are held (default: rollout.maxFailures, else 0)', parseMaxFailuresFlag)
    .option('--ask-sudo-password', 'with --sudo: ask once for the sudo password of non-root nodes (CI: FLEET_SUDO_PASSWORD_FILE)')
    .addHelpText('after', EXEC_HELP + SELECTOR_HELP + `\n\nExamples:\n  fleet exec --on tag:web -- uname -r\n  fleet exec --on @web --sudo -- systemctl restart nginx\n  fleet exec --sudo --waves 1,10% --max-failures 0 -- systemctl restart app\n  fleet exec --shell 'journalctl -u nginx --since -1h | grep -c error' --group\n  fleet exec --timeout 30s -- nix-store --verify --check-contents\n  fleet exec --json -- cat /etc/machine-id | jq -r 'select(.type == "exec-output") | "\\(.node) \\(.line)"'`)
    .action(async (argv: string[], options: object) => setExit(await (await import('./commands/exec.js')).runExec(argv, { ...file(), ...(options as { parallel: number }) }, io, signal)));

  deployOptions(goalArgument(program.command('apply'), 'switch')
    .description('build, copy and activate the selected nodes; a failed activation is rolled back to the exact previous generation')
    .option('--on <selector>', 'nodes to deploy (default: all, unless the fleet sets allowApplyAll: false)')
    .option('--metrics-file <file>', 'when the run ends, write its metrics there in Prometheus\'s text format (time per phase, nodes per outcome, bytes copied, waves, exit code), replacing the file atomically')
    .addOption(evalMemoryOption())
    .addOption(evalWorkersOption()))
    .addHelpText('after', `\nGoals: switch (default), boot, test, dry-activate, build (build only), push (build and copy)\n${SELECTOR_HELP}\n\nExamples:\n  fleet apply --on tag:web\n  fleet apply boot --on 'web-*,!web-3' --parallel 4\n  fleet apply --on @db --json > events.ndjson\n  fleet apply --yes --json --metrics-file /var/lib/prometheus/node-exporter/fleet-apply.prom > run.ndjson\n  fleet apply --waves 1,5,20% --max-failures 10% --on-failure rollback-all\n  fleet apply --on tag:web -m 'hotfix for #42'\n  fleet apply boot --reboot --waves 1,10% --reboot-timeout 5m`)
    .action(async (goal: Goal, options: object) => setExit(await (await import('./commands/apply.js')).runApply(goal, { ...file(), ...(options as { parallel: number }) }, io, signal, { ...(session ? { session } : {}) })));

  program
    .command('keys')
    .description('upload the selected nodes\' keys (the fleet file\'s `keys:`) without deploying: only those that differ on the target, all of a node\'s at once; keys that left the fleet file are removed')
    .option('--on <selector>', 'nodes whose keys to upload (default: all, unless the fleet sets allowApplyAll: false)')
    .option('--json', 'NDJSON events on stdout: one keys event per node, its node-done, then a summary')
    .option('-p, --parallel <n>', 'nodes at once', parsePositive, 10)
    .option('--ask-sudo-password', 'ask once for the sudo password of non-root targets (CI: set FLEET_SUDO_PASSWORD_FILE instead)')
    .option('--break-lock', 'take over the targets\' locks even from a live run (default: its nodes are left alone, outcome locked)')
    .addHelpText('after', `\nThe keys' sources (file, command, env) are read on this machine first: one that fails ends the command before\nany target is touched. Content goes only on the SSH connection's stdin; fleet compares salted hashes, never content.\nOutcomes: pushed (keys written or removed), unchanged, failed, locked. Exit codes as apply.\n${SELECTOR_HELP}\n\nExamples:\n  fleet keys\n  fleet keys --on web-1\n  fleet keys --on tag:vpn --json | jq -c 'select(.type == "keys")'`)
    .action(async (options: object) => setExit(await (await import('./commands/keys.js')).runKeys({ ...file(), ...(options as { parallel: number }) }, io, signal)));

  deployOptions(program.command('rollback')
    .description('put nodes back on the generation they ran before their last fleet deploy (from the records on each target), or on --to GEN / --to-run RUN_ID, exactly and verified; through the same lock, agent, magic rollback, waves and health checks as apply')
    .option('--on <selector>', 'nodes to roll back (default: all, unless the fleet sets allowApplyAll: false)')
    .addOption(new Option('--to <generation>', 'this generation of the profile instead').argParser(parsePositive).conflicts('toRun'))
    .option('--to-run <run-id>', 'the generation a given fleet run deployed (its run id, as in fleet status --json)'))
    .addHelpText('after', `\nA node with no record to go back to is refused (never a guess like "the previous newest generation").\nA second rollback goes one further back. Exit codes as apply.\n${SELECTOR_HELP}\n\nExamples:\n  fleet rollback --on web-1\n  fleet rollback --on tag:web --to-run 20261121T091502Z-3fa9c1d2\n  fleet rollback --on db-1 --to 41`)
    .action(async (options: object) => setExit(await (await import('./commands/rollback.js')).runRollback({ ...file(), ...(options as { parallel: number }) }, io, signal, session)));

  program
    .command('reboot')
    .description('reboot the selected nodes without deploying: each must answer with a new boot id within --reboot-timeout, on its boot default (/run/booted-system and /run/current-system), and pass its health checks; under the targets\' locks, in waves when staged')
    .option('--on <selector>', 'nodes to reboot (default: all, unless the fleet sets allowApplyAll: false)')
    .option('--reboot-timeout <duration>', 'how long a node may take to come back (default 10m); past it the node is unreachable-after-reboot (exit 3)', parseDurationOption)
    .addOption(new Option('--keep-going', 'continue with the other nodes after a failure').conflicts('failFast'))
    .option('--fail-fast', 'after the first failure start nothing new (the default)')
    .option('--json', 'NDJSON events on stdout, one per state change, then a summary object')
    .option('--ask-sudo-password', 'ask once for the sudo password of non-root targets (CI: set FLEET_SUDO_PASSWORD_FILE instead)')
    .option('--break-lock', 'take over the targets\' locks even from a live run (default: its nodes are left alone, outcome locked)')
    .option('--waves <sizes>', 'staged: wave sizes in nodes or % of the selected nodes, the last repeating (overrides rollout.waves), e.g. 1,10%', parseWavesFlag)
    .option('--max-failures <n|p%>', 'failed nodes a wave may have before the later waves are held (overrides rollout.maxFailures)', parseMaxFailuresFlag)
    .option('-y, --yes', 'never ask: go on between waves without confirmation (rollout.pause: confirm)')
    .option('--skip-health-checks', 'EMERGENCY: do not run health checks after the reboots')
    .addHelpText('after', REBOOT_HELP + SELECTOR_HELP + '\n\nExamples:\n  fleet reboot --on web-1\n  fleet reboot --on tag:web --waves 1,25% --reboot-timeout 5m\n  fleet reboot --on @db --json | jq -c \'select(.type == "node-done")\'\n  fleet apply boot --on tag:web --reboot --waves 1,10%')
    .action(async (options: object) => setExit(await (await import('./commands/reboot.js')).runReboot({ ...file(), ...options }, io, signal, session)));

  return program;
}

const REBOOT_HELP = `
A node comes back when it answers with a new boot id (/proc/sys/kernel/random/boot_id). It must then run its boot
default, the system its profile held when the run began: /run/booted-system and /run/current-system. Then its
health checks run; in waves, a wave's reboots and checks gate the next wave. One that does not come back in
time is unreachable-after-reboot: its state is unknown (exit 3), with what to check. One that comes back on
another system failed. The per-target lock is taken first and again after the reboot (a reboot clears it).

Exit codes of reboot: 0 every node came back on its boot default and is healthy, 1 some node did not (locked,
failed, held), 2 usage, 3 some node did not come back in time (state unknown), 130 interrupted.
`;

/** --copy: every selected node's route for this run, over the fleet file's `copy`. */
function copyOption(): Option {
  return new Option('--copy <route>', 'how systems reach the nodes (overrides copy): push, cache (fetched from the fleet\'s cache, pushed when a node cannot), cache! (strict: fail instead)').choices(COPY_VALUES);
}

/** Probes at once: read-only questions, each one ssh process; bounded apart from --parallel (issue 19). */
function probeParallelOption(): Option {
  return new Option('--probe-parallel <n>', 'targets asked at once (probes: state, lock), each over one ssh connection').argParser(parsePositive).default(DEFAULT_PROBE_PARALLEL);
}

/** The options every deploying command shares (apply, rollback). */
function deployOptions(command: Command): Command {
  return command
    .option('-p, --parallel <n>', 'activations (and copies) at once', parsePositive, 10)
    .addOption(probeParallelOption())
    .option('-j, --max-jobs <n>', 'builds at once on the deployer and on targets (default: auto, one per CPU; builders use their maxJobs)', parseMaxJobs)
    .option('--force', 'activate even nodes already running the desired system')
    .addOption(new Option('--keep-going', 'continue with the other nodes after a failure').conflicts('failFast'))
    .option('--fail-fast', 'after the first failure start nothing new (the default)')
    .option('--use-substitutes', 'let targets and build hosts fetch from their substituters while copying')
    .addOption(copyOption())
    .option('--show-trace', 'pass --show-trace to Nix')
    .option('--json', 'NDJSON events on stdout, one per state change, then a summary object')
    .option('-v, --verbose', 'show build and activation output as it comes')
    .option('--ask-sudo-password', 'ask once for the sudo password of non-root targets (CI: set FLEET_SUDO_PASSWORD_FILE instead)')
    .option('--no-magic-rollback', 'switch/test: do not arm the targets\' watchdogs (they revert unless confirmed over a new SSH connection)')
    .option('--confirm-timeout <duration>', 'magic rollback: how long targets wait for the confirmation (overrides confirmTimeout, e.g. 30s)', parseDurationOption)
    .option('--break-lock', 'take over the targets\' locks even from a live run (default: its nodes are left alone, outcome locked)')
    .option('-m, --message <text>', 'a note kept in each target\'s deploy record (fleet status shows it)')
    .option('--waves <sizes>', 'staged rollout: wave sizes in nodes or % of the selected nodes, the last repeating (overrides rollout.waves), e.g. 1,5,20%', parseWavesFlag)
    .option('--max-failures <n|p%>', 'failed nodes a wave may have before it fails (overrides rollout.maxFailures), e.g. 1 or 10%', parseMaxFailuresFlag)
    .addOption(new Option('--on-failure <mode>', 'when a wave fails (overrides rollout.onFailure)').choices(ON_FAILURE_MODES))
    .option('-y, --yes', 'never ask: go on between waves without confirmation (rollout.pause: confirm)')
    .option('--skip-health-checks', 'EMERGENCY: do not run health checks; activated nodes count as healthy')
    .option('--reboot', 'boot, switch: reboot each activated node, wait for it to come back on the new system (a new boot id, /run/booted-system), then run its health checks; a wave\'s reboots gate the next wave')
    .option('--reboot-timeout <duration>', 'with --reboot: how long a node may take to come back (default 10m); past it the node is unreachable-after-reboot (exit 3)', parseDurationOption)
    .addOption(new Option('-i, --interactive', 'review the plan (waves, from → to, diffs, locks) and confirm it, then watch and steer the rollout: p pause after the wave, r resume, a abort (needs a terminal)').conflicts('json'));
}

const EXEC_HELP = `
No shell parses the command: each argument after -- reaches the node as it is (quoted for ssh's remote shell by
fleet). Output: each line as it comes, "node | line" (the node's stdout on stdout, its stderr on stderr); with
--group each node's output as one block when it ends. Then, on stderr, the nodes grouped by how they ended:
exit 0, other exit codes, timed out, unreachable. Terminal control sequences in the output are made visible.
Ctrl+C starts nothing new and ends the running commands on the nodes (their process group gets SIGTERM, SIGKILL
5 s later). fleet exec takes no lock: it does not change what fleet deployed.

Exit codes of exec: 0 every node exited 0, 1 some node did not (an exit code other than 0, timed out, unreachable,
held by --max-failures), 2 usage, 130 interrupted.
`;

const DOCTOR_HELP = `
Checks (each ok, WARN, FAIL with its fix, or skip when one it needs failed):
  every machine  resolve, reach (TCP to its SSH port), rtt, host-key (the line to add when unknown),
                 auth (a login without a prompt), session (the login shell prints nothing on stdout),
                 nix-path (nix-store on the PATH of non-interactive sessions), nix-version and the programs
                 fleet runs there, store (nix-store --serve answers), trusted (trusted-users), disk-nix
  nodes          sudo (privilege escalation without a prompt), activation (systemd or setsid), tools,
                 disk-run, clock (offset from this machine), lock (another run's), run-dirs (/run/fleet)
  builders       systems and features against what the machine builds and the nodes built there
Thresholds: FAIL below 1 GiB free on /nix or 16 MiB on /run; WARN for a clock off by more than 10 s,
a TCP round trip above 150 ms, or run dirs above 64 MiB.
Read-only: one SSH connection and one session per machine (a TCP connection first; ssh-keyscan only
for an unknown host key); sudo runs only \`true\`, and never asks (sudo -n) unless a password is given.

Exit codes of doctor: 0 no check failed (warnings allowed), 1 a check failed, 2 usage, 130 interrupted.
`;

const SELECTOR_HELP = `
Selectors (--on):
  web-1          a node name          web-*      a glob
  tag:web, @web  a tag                tag:eu-*   a tag glob
  a,b            union                &tag:eu    intersect        !web-3   exclude
  Unions first, then intersections, then exclusions: tag:web,&tag:eu,!web-3`;

/** Map any error to a message and an exit code; a stack trace only for fleet's own bugs. */
export function reportError(error: unknown, io: CliIo): number {
  if (error instanceof CommanderError) {
    return error.exitCode === 0 || error.code === 'commander.helpDisplayed' || error.code === 'commander.version' ? ExitCode.ok : ExitCode.usage;
  }
  if (error instanceof ConfigError) {
    for (const d of error.diagnostics) io.stderr.write(`${formatDiagnostic(d)}\n`);
    return ExitCode.usage;
  }
  if (error instanceof UsageError) {
    io.stderr.write(`fleet: ${error.message}\n`);
    return ExitCode.usage;
  }
  io.stderr.write(`fleet: internal error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  return ExitCode.unsafe;
}

export async function runCli(argv: string[], io: CliIo, signal: AbortSignal, session?: Session): Promise<number> {
  let code: number = ExitCode.ok;
  try {
    await buildProgram(io, signal, (c) => (code = c), session).parseAsync(argv);
  } catch (error) {
    code = reportError(error, io);
  }
  return code;
}

/** The first Ctrl+C's words: activations are named only where a deploy runs (not in status --watch, plan, diff). */
export function interruptNotice(signal: string, deploying: boolean): string {
  return `fleet: ${signal}: starting nothing new${deploying ? '; running activations finish or roll back' : ''} (again to quit now)`;
}

export async function main(argv: string[]): Promise<void> {
  const controller = new AbortController();
  // A closed stdout (`fleet apply --json | head -1`) must never abort a deployment: renderers stop writing.
  process.stdout.on('error', () => {});
  process.stderr.on('error', () => {});
  let interrupts = 0;
  const onSignal = (name: string) => {
    interrupts++;
    if (interrupts === 1) {
      session.notice(interruptNotice(name, session.deploying()));
      controller.abort();
    } else {
      // Forced quit: ssh masters are closed by the pool's exit hook; a node mid-activation is unknown.
      session.restore();
      const abandoned = session.activating();
      const code = abandoned.length === 0 ? ExitCode.interrupted : ExitCode.unsafe;
      // The run's summary still comes last on --json (writes to a pipe or file are synchronous here).
      session.quit(code, abandoned);
      if (abandoned.length > 0) process.stderr.write(`fleet: quit while activating ${abandoned.join(', ')}: their state is unknown; check them (fleet plan)\n`);
      process.exit(code);
    }
  };
  // Ctrl+C pressed inside the interactive UI (raw mode: no SIGINT) comes here too.
  const session = createSession(process.stderr, () => onSignal('Ctrl+C'));
  // SIGHUP: the terminal was closed, or the ssh session to this machine dropped. By default it would kill fleet on
  // the spot and leave every target's lock held until lockTimeout: like SIGTERM, fleet finishes and releases them.
  for (const name of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(name, () => onSignal(name));
  const tty = process.stdin.isTTY && process.stdout.isTTY ? { tty: { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr } } : {};
  const code = await runCli(argv, { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr, env: process.env, cwd: process.cwd(), ...tty }, controller.signal, session);
  process.exitCode = controller.signal.aborted && code === ExitCode.ok ? ExitCode.interrupted : code;
  // Let stdout drain, then exit: a lingering handle (a child's pipe) must not keep fleet alive.
  process.stdout.write('', () => process.exit(process.exitCode));
}
