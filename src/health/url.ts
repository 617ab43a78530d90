// `{host}` in an http health check: the node's address as a URL host (IPv6 in brackets, zone id escaped).
import { isIPv6 } from 'node:net';

/** `http://{host}:8080/` with 2001:db8::1 → `http://[2001:db8::1]:8080/`; a name or IPv4 address as is. */
export function healthUrl(template: string, address: string): string {
  const host = isIPv6(address) ? `[${address.replace('%', '%25')}]` : address;
  return template.replaceAll('{host}', host);
}
