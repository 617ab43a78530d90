// The one audited place where argv becomes a shell string: ssh always hands commands to a remote shell.

const SAFE = /^[A-Za-z0-9_@%+=:,./-]+$/;

/** Quote one argument for a POSIX shell: single quotes, with embedded ' as '\''. */
export function quoteArg(arg: string): string {
  if (arg.length > 0 && SAFE.test(arg)) return arg;
  return `'${arg.replaceAll("'", `'\\''`)}'`;
}

/** Quote an argv so a POSIX shell parses it back into exactly the same words. */
export function quoteArgv(argv: readonly string[]): string {
  if (argv.length === 0) throw new Error('quoteArgv: empty argv');
  return argv.map(quoteArg).join(' ');
}
