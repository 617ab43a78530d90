// Words for people, shared by every floor that writes them (the ui, diff, the rollout's messages).

/** `3 nodes` / `1 node`; an irregular plural is given (`countOf(n, 'copy', 'copies')`). */
export function countOf(n: number, noun: string, plural = `${noun}s`): string {
  return `${n} ${n === 1 ? noun : plural}`;
}
