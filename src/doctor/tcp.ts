// Resolving and reaching a machine's SSH port with a plain TCP connection of its own: what the name resolves to,
// whether something answers, how long the TCP handshake took (one round trip) and the server's SSH banner.
import { lookup } from 'node:dns/promises';
import { connect } from 'node:net';

/** An IPv4 or IPv6 address rather than a name: nothing to resolve. */
export function isAddress(host: string): boolean {
  return /^[\d.]+$/.test(host) || host.includes(':');
}

export type Resolved = { ok: true; addresses: string[] } | { ok: false; error: string };

/** Every address the name resolves to, in the resolver's order (ssh tries them in this order too). */
export async function resolveName(name: string, family: 0 | 4 | 6 = 0): Promise<Resolved> {
  try {
    const found = await lookup(name, { all: true, family, verbatim: true });
    return { ok: true, addresses: found.map((a) => a.address) };
  } catch (error) {
    const e = error as NodeJS.ErrnoException;
    return { ok: false, error: e.code ?? e.message };
  }
}

export type Reached =
  | { ok: true; address: string; rttMs: number; banner?: string }
  | { ok: false; address: string; error: string };

/** Connects to address:port, waits for the server's identification line, answers with its own and closes (so sshd
 *  logs a plain closed connection, not a scan). rttMs: from connect() to the connection being up. */
export function reachPort(address: string, port: number, timeoutMs: number): Promise<Reached> {
  return new Promise((resolve) => {
    const started = process.hrtime.bigint();
    let rttMs: number | undefined;
    let received = '';
    const socket = connect({ host: address, port });
    let done = false;
    const finish = (result: Reached) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.removeAllListeners('data');
      socket.end();
      setTimeout(() => socket.destroy(), 1000).unref();
      resolve(result);
    };
    const timer = setTimeout(() => {
      if (rttMs === undefined) finish({ ok: false, address, error: `no answer within ${Math.round(timeoutMs / 1000)} s (connection timed out)` });
      else finish({ ok: true, address, rttMs }); // connected, but no banner: still reached
    }, timeoutMs);
    socket.once('connect', () => {
      rttMs = Number(process.hrtime.bigint() - started) / 1e6;
    });
    socket.on('data', (chunk: Buffer) => {
      received += chunk.toString('latin1');
      const line = /^(SSH-[^\r\n]*)\r?\n/m.exec(received);
      if (line || received.length > 4096) {
        socket.write('SSH-2.0-fleet-doctor\r\n');
        finish({ ok: true, address, rttMs: rttMs ?? 0, ...(line ? { banner: line[1] } : {}) });
      }
    });
    socket.once('error', (error: NodeJS.ErrnoException) => finish({ ok: false, address, error: error.code ?? error.message }));
    socket.once('close', () => {
      if (rttMs !== undefined) finish({ ok: true, address, rttMs });
    });
  });
}
