// ink decides once, when it loads, whether it runs under CI (is-in-ci: then it draws nothing until exit). `-i` and
// `--watch` are a person at a terminal, whatever the shell exports: ink loads with CI and CONTINUOUS_INTEGRATION
// hidden, and they are put back at once (Nix, ssh and git still see them).
export async function loadInkUi(): Promise<typeof import('../ui/ink/index.js')> {
  const hidden = ['CI', 'CONTINUOUS_INTEGRATION'].flatMap((key) => (process.env[key] === undefined ? [] : [[key, process.env[key]!] as const]));
  for (const [key] of hidden) delete process.env[key];
  try {
    return await import('../ui/ink/index.js');
  } finally {
    for (const [key, value] of hidden) process.env[key] = value;
  }
}
