// `sshOptions` read the way ssh's getopt reads them, so `check` refuses what ssh or Nix would misread later.

/** ssh(1) flags that take an argument (`-i file`, `-ifile`); from OpenSSH's getopt string. */
const TAKES_ARGUMENT = new Set('BbcDEeFIiJLlmOoPpQRSWw');
/** ssh(1) flags that stand alone and may be bundled (`-4v`). */
const STANDALONE = new Set('46AaCfGgKkMNnqsTtVvXxYy');

/** One option as ssh sees it: `-o` with `StrictHostKeyChecking=no`, from element `index`. */
export interface SshOption {
  flag: string;
  value?: string;
  index: number; // the element holding the flag
}

/** Why an element is refused; `index` is the element to point at. */
export class SshOptionError extends Error {
  constructor(
    readonly index: number,
    message: string,
  ) {
    super(message);
  }
}

/** Parses an ssh argument list like ssh's getopt; throws SshOptionError at the first element ssh or Nix would misread. */
export function parseSshOptions(args: readonly string[]): SshOption[] {
  const options: SshOption[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    // Nix splits NIX_SSHOPTS at white space, so `-o Key value` in one element reaches ssh as two words.
    const space = /\s/.exec(arg);
    if (space) throw new SshOptionError(i, `\`${arg}\` holds ${space[0] === ' ' ? 'a space' : 'white space'}: Nix splits ssh options at white space; put each word in its own element (\`-o\`, \`Key=value\`)`);
    if (arg === '') throw new SshOptionError(i, 'an empty element is not an ssh option');
    if (arg === '-' || arg === '--') throw new SshOptionError(i, `\`${arg}\` ends ssh's options: what follows would be read as the host to connect to`);
    if (!arg.startsWith('-')) {
      const hint = arg.includes('=') ? `; for an ssh_config setting write \`-o\` before it` : '';
      throw new SshOptionError(i, `\`${arg}\` is not an ssh option nor an option's argument: ssh would read it as the host to connect to${hint}`);
    }
    for (let j = 1; j < arg.length; j++) {
      const flag = arg[j]!;
      if (STANDALONE.has(flag)) {
        options.push({ flag, index: i });
        continue;
      }
      if (!TAKES_ARGUMENT.has(flag)) throw new SshOptionError(i, `\`-${flag}\` (in \`${arg}\`) is not an ssh option`);
      const attached = arg.slice(j + 1);
      if (attached !== '') options.push({ flag, value: attached, index: i });
      else if (i + 1 < args.length) options.push({ flag, value: checkArgument(args, ++i, flag), index: i - 1 });
      else throw new SshOptionError(i, `\`-${flag}\` needs an argument in the next element`);
      break;
    }
  }
  return options;
}

function checkArgument(args: readonly string[], i: number, flag: string): string {
  const value = args[i]!;
  if (/\s/.test(value)) {
    throw new SshOptionError(i, `\`${value}\` (the argument of \`-${flag}\`) holds white space: Nix splits ssh options at white space; write \`Key=value\``);
  }
  if (value === '') throw new SshOptionError(i, `the argument of \`-${flag}\` is empty`);
  return value;
}

/** ssh_config lines equal to each ssh flag, for builders Nix's own ssh reaches (its NIX_SSHOPTS is one for all builders). */
const CONFIG_LINES: Record<string, (value: string) => string[]> = {
  o: (v) => [v], // ssh_config accepts `Key=value` as written
  i: (v) => [`IdentityFile ${v}`],
  p: (v) => [`Port ${v}`],
  l: (v) => [`User ${v}`],
  F: (v) => [`Include ${v}`],
  J: (v) => [`ProxyJump ${v}`],
  c: (v) => [`Ciphers ${v}`],
  m: (v) => [`MACs ${v}`],
  b: (v) => [`BindAddress ${v}`],
  B: (v) => [`BindInterface ${v}`],
  '4': () => ['AddressFamily inet'],
  '6': () => ['AddressFamily inet6'],
  C: () => ['Compression yes'],
  A: () => ['ForwardAgent yes'],
  a: () => ['ForwardAgent no'],
  x: () => ['ForwardX11 no'],
  X: () => ['ForwardX11 yes'],
  Y: () => ['ForwardX11 yes', 'ForwardX11Trusted yes'],
  q: () => ['LogLevel QUIET'],
  k: () => ['GSSAPIDelegateCredentials no'],
  K: () => ['GSSAPIAuthentication yes', 'GSSAPIDelegateCredentials yes'],
  g: () => ['GatewayPorts yes'],
};

/** The flags `sshOptionsToConfig` can express, for messages. */
export const CONFIG_FLAGS = [...Object.keys(CONFIG_LINES), 'v'];

/** An ssh argument list as ssh_config lines; throws SshOptionError on a flag that has no ssh_config form. */
export function sshOptionsToConfig(args: readonly string[]): string[] {
  const lines: string[] = [];
  let verbose = 0;
  for (const option of parseSshOptions(args)) {
    if (option.flag === 'v') {
      verbose++;
      continue;
    }
    const toLines = CONFIG_LINES[option.flag];
    if (!toLines) {
      throw new SshOptionError(
        option.index,
        `\`-${option.flag}\` cannot reach Nix's ssh for \`buildHost: builders\` (it has no ssh_config form); ` +
          `builders take ${CONFIG_FLAGS.map((f) => `\`-${f}\``).join(', ')}`,
      );
    }
    lines.push(...toLines(option.value ?? ''));
  }
  // -v, -vv, -vvv: ssh's DEBUG1..3; ssh_config has the same levels.
  if (verbose > 0) lines.push(`LogLevel DEBUG${Math.min(verbose, 3)}`);
  return lines;
}
