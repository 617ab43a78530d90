// Selectors quoted in messages are cut, so a 100 kB `--on` cannot flood the terminal.
export const CLIP_AT = 80;

/** The first `max` characters of `text`, then `…` when it was longer. */
export function clip(text: string, max = CLIP_AT): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}
