// An http health check: one request from the deployer, its status and the beginning of its body.
import type { HealthCheck } from '../config/types.js';
import { healthUrl } from './url.js';

/** Body characters a detail shows. */
const BODY_SHOWN = 200;

/** One attempt of an http check, asked from the deployer; `address` is what `{host}` becomes. */
export async function askHttp(check: Extract<HealthCheck, { kind: 'http' }>, address: string, stop?: AbortSignal): Promise<{ ok: boolean; detail: string }> {
  const url = healthUrl(check.url, address);
  const timeout = AbortSignal.timeout(check.timeoutMs);
  const signal = stop ? AbortSignal.any([timeout, stop]) : timeout;
  try {
    // A redirect is the answer (`expectStatus: 302` checks it), never followed. The body is read under the same
    // deadline (a server that sends headers and then hangs is bounded too), and only its beginning.
    const response = await fetch(url, { signal, redirect: 'manual' });
    const body = await readBody(response, check.expectBody);
    const shown = clipBody(body.text);
    if (response.status !== check.expectStatus) {
      return { ok: false, detail: `HTTP ${response.status}, expected ${check.expectStatus}${shown ? `: ${shown}` : ''}` };
    }
    if (check.expectBody !== undefined && !body.text.includes(check.expectBody)) {
      const where = body.cut ? `the first ${BODY_SEARCHED / 1024} KiB of the body do` : 'the body does';
      return { ok: false, detail: `HTTP ${response.status}, but ${where} not contain \`${check.expectBody}\`${shown ? `: ${shown}` : ''}` };
    }
    return { ok: true, detail: `HTTP ${response.status}` };
  } catch (e) {
    if (timeout.aborted) return { ok: false, detail: `timed out after ${seconds(check.timeoutMs)} (${url})` };
    if (stop?.aborted) return { ok: false, detail: 'interrupted' };
    return { ok: false, detail: `cannot reach ${url}: ${describeFetchError(e)}` };
  }
}

/** How much of a body `expectBody` is searched in: a health endpoint answers in a few bytes, and a huge body
 *  must not be held in memory (200 MB read whole took 711 MB). */
export const BODY_SEARCHED = 64 * 1024;
/** Without `expectBody` only what a failure shows is read. */
const BODY_READ_TO_SHOW = 4 * 1024;

/** The body's beginning: until `expectBody` shows up, or its limit; then the rest is not downloaded. cut: it stopped before the end. */
async function readBody(response: Response, expectBody: string | undefined): Promise<{ text: string; cut: boolean }> {
  const limit = expectBody === undefined ? BODY_READ_TO_SHOW : BODY_SEARCHED;
  const reader = response.body?.getReader();
  if (!reader) return { text: '', cut: false };
  const decoder = new TextDecoder();
  let text = '';
  let bytes = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return { text: text + decoder.decode(), cut: false };
    const room = limit - bytes;
    bytes += value.byteLength;
    text += decoder.decode(value.byteLength > room ? value.subarray(0, room) : value, { stream: true });
    if (bytes >= limit || (expectBody !== undefined && text.includes(expectBody))) {
      await reader.cancel().catch(() => undefined);
      return { text, cut: true };
    }
  }
}

/** fetch says only "fetch failed"; the reason (ECONNREFUSED, ENOTFOUND, a TLS error) is in its cause. */
function describeFetchError(e: unknown): string {
  const cause = (e as { cause?: { code?: string; message?: string } }).cause;
  if (cause?.message) return cause.code && !cause.message.includes(cause.code) ? `${cause.code}: ${cause.message}` : cause.message;
  return e instanceof Error ? e.message : String(e);
}

function clipBody(body: string): string {
  const text = body.trim().replace(/\s+/g, ' ');
  return text.length > BODY_SHOWN ? `${text.slice(0, BODY_SHOWN)}…` : text;
}

/** A limit as a fleet file writes it: 2s, 300ms. */
export function seconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}
