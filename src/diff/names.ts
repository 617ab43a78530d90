// Store path names → package name and version, by Nix's own rules (DrvName and `nix store diff-closures`).

export interface PackageName {
  name: string;
  /** '' when the name carries no version. */
  version: string;
}

const storePath = /^\/nix\/store\/[0-9a-z]{32}-(.+)$/;
// diff-closures strips an output suffix (`-bin`, `-man`, `-lib64`…); ambiguous with a word-only version suffix, as in Nix.
const outputSuffix = /^(.*)-([a-z]+|lib32|lib64)$/;

/** `/nix/store/<hash>-hello-2.12-man` → `hello-2.12-man`; anything else is returned as it is. */
export function storeName(path: string): string {
  return storePath.exec(path)?.[1] ?? path;
}

const DASH = 45;
/** ASCII letters only: Nix's isalpha in the C locale. */
const isLetter = (c: number) => (c >= 65 && c <= 90) || (c >= 97 && c <= 122);

/** Nix's DrvName split: the version starts after the first `-` that is followed by anything but a letter. */
export function splitNameVersion(text: string): PackageName {
  for (let i = 0; i + 1 < text.length; i++) {
    if (text.charCodeAt(i) === DASH && !isLetter(text.charCodeAt(i + 1))) return { name: text.slice(0, i), version: text.slice(i + 1) };
  }
  return { name: text, version: '' };
}

/** The package a store path belongs to: its output suffix dropped, then split into name and version. */
export function parsePackage(path: string): PackageName {
  const name = storeName(path);
  const m = outputSuffix.exec(name);
  return splitNameVersion(m ? m[1]! : name);
}
