// Processes as tests see them: running means it exists and is not a zombie (an orphan's exit is reaped by
// whoever adopted it, maybe later).
import { readFileSync } from 'node:fs';

export function isRunning(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}
