// A binary cache for the lab: Debian's nginx serving a `file://` cache directory over HTTP (the README's worked
// example), on its own port; fleet uploads to the directory (or PUTs over HTTP), targets fetch over HTTP. Installed by scripts/setup.sh.
import { spawn } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { findExecutable } from './which.js';
import { pickFreePorts } from './ports.js';

export interface CacheServer {
  dir: string; // the cache: upload to `file://<dir>`
  url: string; // what targets fetch from: http://<address>:<port>
  port: number;
  accessLog: string;
  pid: number;
  stop(): Promise<void>;
}

function accepts(address: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: address, port });
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
  });
}

/** nginx in the foreground (`daemon off`), its own pid file, logs and temp dirs under `base`; stop() kills it by pid. */
/** netns: the pid of a process whose network namespace nginx runs in (a systemd lab host's), else this machine's. */
export async function startCacheServer(base: string, opts: { address?: string; port?: number; netns?: number } = {}): Promise<CacheServer> {
  const nginx = findExecutable('nginx', { PATH: `${process.env.PATH ?? ''}:/usr/sbin:/sbin` });
  if (!nginx) throw new Error('nginx is not installed: run scripts/setup.sh (Debian package nginx-light)');
  const address = opts.address ?? '127.0.0.1';
  const port = opts.port ?? (await pickFreePorts(1))[0]!;
  const dir = `${base}/cache`;
  await mkdir(dir, { recursive: true, mode: 0o755 });
  await mkdir(`${base}/nginx-tmp`, { recursive: true });
  const accessLog = `${base}/nginx-access.log`;
  const conf = [
    'daemon off;', 'master_process off;', `pid ${base}/nginx.pid;`, `error_log ${base}/nginx-error.log;`,
    'events { worker_connections 1024; }',
    'http {',
    `  access_log ${accessLog};`, `  client_body_temp_path ${base}/nginx-tmp/body;`, `  proxy_temp_path ${base}/nginx-tmp/proxy;`,
    `  fastcgi_temp_path ${base}/nginx-tmp/fastcgi;`, `  uwsgi_temp_path ${base}/nginx-tmp/uwsgi;`, `  scgi_temp_path ${base}/nginx-tmp/scgi;`,
    '  types { text/x-nix-narinfo narinfo; application/x-nix-nar nar; }', '  sendfile on;',
    '  client_max_body_size 0;',
    // Uploads over HTTP too (`url: http://…`, the benchmark): Nix PUTs narinfos and NARs.
    `  server { listen ${address}:${port}; root ${dir}; dav_methods PUT; create_full_put_path on; dav_access user:rw group:r all:r; }`,
    '}', '',
  ].join('\n');
  await writeFile(`${base}/nginx.conf`, conf);
  // master_process off: one process, running as root, so it reads whatever Nix wrote and stop() kills all of it.
  const argv = [nginx, '-c', `${base}/nginx.conf`, '-p', base];
  const [file, ...args] = opts.netns === undefined ? argv : ['nsenter', '-t', String(opts.netns), '-n', ...argv];
  const child = spawn(file!, args, { stdio: 'ignore', detached: true });
  child.unref();
  const pid = child.pid!;
  for (let i = 0; i < 100 && !(await accepts(address, port)); i++) await new Promise((r) => setTimeout(r, 50));
  if (!(await accepts(address, port))) {
    process.kill(pid, 'SIGKILL');
    throw new Error(`nginx did not listen on ${address}:${port}: ${await readFile(`${base}/nginx-error.log`, 'utf8').catch(() => '')}`);
  }
  return {
    dir, url: `http://${address}:${port}`, port, accessLog, pid,
    async stop() {
      try {
        process.kill(pid, 'SIGTERM');
      } catch {
        return;
      }
      for (let i = 0; i < 100; i++) {
        try {
          process.kill(pid, 0);
        } catch {
          return;
        }
        await new Promise((r) => setTimeout(r, 20));
      }
      process.kill(pid, 'SIGKILL');
    },
  };
}
