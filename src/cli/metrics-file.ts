// `fleet apply --metrics-file FILE`: checked before the run touches anything, written once it ends, replaced
// atomically, so node_exporter's textfile collector (or a Pushgateway upload) never reads half a file.
import { randomBytes } from 'node:crypto';
import { access, constants, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { UsageError } from '../errors.js';

export const metricsDirMissing = (dir: string) => `--metrics-file: ${dir} is not a directory fleet can write to (create it first)`;
export const metricsFileIsDir = (path: string) => `--metrics-file: ${path} is a directory; name a file in it, e.g. ${path.replace(/\/$/, '')}/fleet.prom`;

/** The file's absolute path, once its directory exists and is writable (else a usage error, exit 2). */
export async function checkMetricsFile(cwd: string, file: string): Promise<string> {
  const path = resolve(cwd, file);
  const dir = dirname(path);
  const isDir = async (p: string) => (await stat(p).catch(() => undefined))?.isDirectory() ?? false;
  if (await isDir(path)) throw new UsageError(metricsFileIsDir(path));
  if (!(await isDir(dir)) || !(await access(dir, constants.W_OK).then(() => true, () => false))) throw new UsageError(metricsDirMissing(dir));
  return path;
}

/** The warning when the file cannot be written once the run ended: the deployment's outcome stands. */
export const metricsWriteFailed = (path: string, error: unknown) => `--metrics-file: could not write ${path}: ${error instanceof Error ? error.message : String(error)}`;

/** A temporary file beside it (not ending in .prom: the textfile collector skips it), then renamed over it. */
export async function writeFileAtomic(path: string, text: string): Promise<void> {
  const temp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    await writeFile(temp, text, { mode: 0o644 });
    await rename(temp, path);
  } catch (error) {
    await unlink(temp).catch(() => undefined);
    throw error;
  }
}
