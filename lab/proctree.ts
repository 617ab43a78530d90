// A process and all its descendants, sampled from /proc while they run: how many ssh clients a fleet run holds at
// once and how much memory the whole tree (node and every ssh, nix, sh) takes. What tests and benchmarks assert
// fleet's connection and memory bounds with.
import { readdirSync, readFileSync } from 'node:fs';

const PAGE_KB = 4;

export interface TreeSample {
  processes: number;
  ssh: number; // processes whose command is ssh (masters, sessions, nix-copy-closure's)
  rssKB: number; // resident memory of the whole tree (each process's RSS, summed)
  sshRssKB: number;
}

export interface TreePeaks {
  samples: number;
  processes: number;
  ssh: number;
  rssKB: number;
  sshRssKB: number;
}

function read(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined; // gone meanwhile
  }
}

/** Children of every thread of `pid` (a child may be forked by any thread). */
function childrenOf(pid: number): number[] {
  let tasks: string[];
  try {
    tasks = readdirSync(`/proc/${pid}/task`);
  } catch {
    return [];
  }
  return tasks.flatMap((tid) => (read(`/proc/${pid}/task/${tid}/children`) ?? '').trim().split(/\s+/).filter(Boolean).map(Number));
}

/** `root` and its descendants alive right now, root first. */
export function listTree(root: number): number[] {
  const queue = [root];
  const found: number[] = [];
  while (queue.length > 0) {
    const pid = queue.shift()!;
    if (found.includes(pid) || read(`/proc/${pid}/stat`) === undefined) continue;
    found.push(pid);
    queue.push(...childrenOf(pid));
  }
  return found;
}

/** `root` and its descendants right now. */
export function sampleTree(root: number): TreeSample {
  const sample: TreeSample = { processes: 0, ssh: 0, rssKB: 0, sshRssKB: 0 };
  for (const pid of listTree(root)) {
    const comm = read(`/proc/${pid}/comm`)?.trim();
    const rssKB = Number((read(`/proc/${pid}/statm`) ?? '0 0').split(' ')[1]) * PAGE_KB;
    if (comm === undefined) continue;
    sample.processes += 1;
    sample.rssKB += rssKB;
    if (comm === 'ssh') {
      sample.ssh += 1;
      sample.sshRssKB += rssKB;
    }
  }
  return sample;
}

/** Samples the tree every `everyMs` until stop(), which returns the peak of each measure (taken separately). */
export function watchTree(root: number, everyMs = 100): { stop(): TreePeaks } {
  const peaks: TreePeaks = { samples: 0, processes: 0, ssh: 0, rssKB: 0, sshRssKB: 0 };
  const take = () => {
    const s = sampleTree(root);
    if (s.processes === 0) return;
    peaks.samples += 1;
    peaks.processes = Math.max(peaks.processes, s.processes);
    peaks.ssh = Math.max(peaks.ssh, s.ssh);
    peaks.rssKB = Math.max(peaks.rssKB, s.rssKB);
    peaks.sshRssKB = Math.max(peaks.sshRssKB, s.sshRssKB);
  };
  take();
  const timer = setInterval(take, everyMs);
  return {
    stop() {
      clearInterval(timer);
      take();
      return { ...peaks };
    },
  };
}
