// fleet's own version, from package.json (in the checkout and in the installed package alike).
import { readFileSync } from 'node:fs';

export function fleetVersion(): string {
  return (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;
}
