// Free loopback ports for lab hosts, below the kernel's ephemeral range: a port picked there could be taken by any
// outgoing connection (every ssh of every test on the machine) before the host's sshd binds it.
import { readFileSync } from 'node:fs';
import { randomInt } from 'node:crypto';
import { createServer } from 'node:net';

const LOWEST = 10_000;

/** The first port of the ephemeral range (net.ipv4.ip_local_port_range), 32768 when unreadable. */
function ephemeralStart(): number {
  try {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    return Number.isInteger(low) && low > LOWEST + 1000 ? low : 32_768;
  } catch {
    return 32_768;
  }
}

/** Whether the port can be bound on 127.0.0.1 right now (bound and released). */
function isFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen({ port, host: '127.0.0.1', exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/** `count` distinct ports, each free when picked, none of them in `avoid`. */
export async function pickFreePorts(count: number, avoid: ReadonlySet<number> = new Set()): Promise<number[]> {
  const end = ephemeralStart();
  const picked = new Set<number>();
  for (let tries = 0; picked.size < count; tries++) {
    if (tries > count * 50) throw new Error(`no ${count} free ports between ${LOWEST} and ${end}`);
    const candidates = Array.from({ length: count - picked.size }, () => randomInt(LOWEST, end)).filter((p) => !picked.has(p) && !avoid.has(p));
    const free = await Promise.all(candidates.map(isFree));
    candidates.forEach((p, i) => free[i] && picked.add(p));
  }
  return [...picked].slice(0, count);
}
