// Activations running right now: a forced quit (second Ctrl+C) while any run cannot promise a safe state.
const running = new Set<string>();

export function markActivating(node: string, active: boolean): void {
  if (active) running.add(node);
  else running.delete(node);
}

export function listActivating(): string[] {
  return [...running];
}
