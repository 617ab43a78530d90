// A TCP relay that delays every chunk by a fixed time in each direction (round trip +2x), keeping order and
// back-pressure: the stand-in for `tc netem delay`, which this kernel lacks. The lab runs it inside a host's network
// namespace in front of its sshd.  Usage: delay-relay.ts LISTEN_PORT TARGET_HOST TARGET_PORT DELAY_MS_EACH_WAY
import net from 'node:net';
import { pathToFileURL } from 'node:url';

const HIGH_WATER = 4 << 20; // bytes in flight per direction before the source is paused

interface Chunk {
  due: number;
  data?: Buffer; // undefined: the source ended
}

function relay(src: net.Socket, dst: net.Socket, delayMs: number): void {
  const queue: Chunk[] = [];
  let bytes = 0;
  let timer: NodeJS.Timeout | undefined;
  const flush = () => {
    timer = undefined;
    const now = Date.now();
    while (queue.length > 0 && queue[0]!.due <= now) {
      const chunk = queue.shift()!;
      if (chunk.data === undefined) {
        dst.end();
        continue;
      }
      bytes -= chunk.data.length;
      dst.write(chunk.data);
    }
    if (bytes < HIGH_WATER && src.isPaused()) src.resume();
    if (queue.length > 0) timer = setTimeout(flush, queue[0]!.due - now);
  };
  const push = (chunk: Chunk) => {
    queue.push(chunk);
    timer ??= setTimeout(flush, Math.max(0, queue[0]!.due - Date.now()));
  };
  src.on('data', (data: Buffer) => {
    bytes += data.length;
    push({ due: Date.now() + delayMs, data });
    if (bytes >= HIGH_WATER) src.pause();
  });
  src.on('end', () => push({ due: Date.now() + delayMs }));
  src.on('error', () => dst.destroy());
  src.on('close', () => setTimeout(() => dst.destroy(), delayMs + 50));
}

/** Listens on every address (v4 and v6) at listenPort; resolves once listening. */
export function startDelayRelay(listenPort: number, targetHost: string, targetPort: number, delayMs: number): Promise<net.Server> {
  const server = net.createServer({ noDelay: true }, (client) => {
    const upstream = net.connect({ host: targetHost, port: targetPort, noDelay: true });
    relay(client, upstream, delayMs);
    relay(upstream, client, delayMs);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port: listenPort, host: '::', ipv6Only: false }, () => resolve(server));
  });
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const [port, host, targetPort, delay] = process.argv.slice(2);
  startDelayRelay(Number(port), host ?? '127.0.0.1', Number(targetPort), Number(delay)).then(
    () => console.error(`delay relay :${port} -> ${host}:${targetPort} +${delay} ms each way`),
    (error: unknown) => {
      console.error(`delay relay: ${String(error)}`);
      process.exitCode = 1;
    },
  );
}
