// How a test's lab goes away: removed, unless FLEET_LAB_KEEP=1 asks to keep its files (logs, stores) for a post-mortem.

export async function downAndMaybeKeep(lab: { dir: string; stop(opts?: { remove?: boolean }): Promise<void> }): Promise<void> {
  const keep = process.env.FLEET_LAB_KEEP === '1';
  await lab.stop({ remove: !keep });
  if (keep) console.error(`lab kept in ${lab.dir}`);
}
