// Words and times as people read them, shared by the line and listr renderers.
import type { Phase } from '../errors.js';

const phaseLabels: Record<Phase, string> = {
  connect: 'connecting',
  evaluate: 'evaluating',
  query: 'querying',
  build: 'building',
  copy: 'copying',
  activate: 'activating',
  verify: 'verifying',
  confirm: 'confirming',
  health: 'checking health',
  rollback: 'rolling back',
  ready: 'ready',
  keys: 'keys',
  reboot: 'rebooting',
};

export function describePhase(phase: Phase): string {
  return phaseLabels[phase];
}

/** `HH:MM:SS` in local time from an ISO timestamp. */
export function formatClock(iso: string): string {
  const d = new Date(iso);
  return [d.getHours(), d.getMinutes(), d.getSeconds()].map((n) => String(n).padStart(2, '0')).join(':');
}

/** Errors can span lines; titles, table cells and log lines show the first. */
export function firstLine(text: string): string {
  return text.split('\n', 1)[0] ?? '';
}

/** One health check attempt: `nginx 2/4 failed: exit 3: inactive` (the first line of its detail). */
export function describeHealth(h: { check: string; attempt: number; attempts: number; ok: boolean; detail: string }): string {
  const detail = firstLine(h.detail);
  return `${h.check} ${h.attempt}/${h.attempts} ${h.ok ? 'passed' : 'failed'}${detail ? `: ${detail}` : ''}`;
}
