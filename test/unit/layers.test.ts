// The layering of src/ as its imports show it: every folder (or top-level file) sits on a floor of the README's
// "Layout" list and imports only from its own floor or lower ones, and nothing imports in a circle. The one
// exception: src/events.ts imports the types of its payloads (type-only), which live where they are made.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import ts from 'typescript';

const root = resolve(import.meta.dirname, '../..');

/** The documented exception: these modules' types are event payloads, imported by src/events.ts as types only. */
const EVENT_PAYLOADS = ['src/diff/closure.ts', 'src/diff/group.ts', 'src/doctor/types.ts', 'src/plan/types.ts', 'src/status/classify.ts'];

interface Import {
  from: string; // repository-relative file
  to: string; // repository-relative file; a package (`node:fs`, `execa`); or the specifier of a file that is not there
  typeOnly: boolean;
  external?: boolean; // a package
}

function sourceFiles(dir: string): string[] {
  return readdirSync(join(root, dir), { withFileTypes: true }).flatMap((e) => {
    const path = `${dir}/${e.name}`;
    if (e.isDirectory()) return sourceFiles(path);
    return /\.tsx?$/.test(e.name) && !e.name.endsWith('.d.ts') ? [path] : [];
  });
}

function resolveSpecifier(from: string, specifier: string): string {
  const base = join(dirname(from), specifier).replace(/\.js$/, '');
  return [`${base}.ts`, `${base}.tsx`, `${base}/index.ts`].find((f) => existsSync(join(root, f))) ?? specifier;
}

/** Every import, export-from, dynamic import() and import('…') type of a file, by the TypeScript parser. */
export function importsOf(file: string, text = readFileSync(join(root, file), 'utf8')): Import[] {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true, file.endsWith('.tsx') ? ts.ScriptKind.TSX : ts.ScriptKind.TS);
  const found: Import[] = [];
  const add = (specifier: ts.Node | undefined, typeOnly: boolean) => {
    if (!specifier || !ts.isStringLiteral(specifier)) return;
    const relative = specifier.text.startsWith('.');
    found.push({ from: file, to: relative ? resolveSpecifier(file, specifier.text) : specifier.text, typeOnly, ...(relative ? {} : { external: true }) });
  };
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node)) {
      const clause = node.importClause;
      const named = clause?.namedBindings && ts.isNamedImports(clause.namedBindings) ? clause.namedBindings.elements : undefined;
      const typeOnly = !!clause && (clause.isTypeOnly || (!clause.name && !!named && named.length > 0 && named.every((e) => e.isTypeOnly)));
      add(node.moduleSpecifier, typeOnly);
    } else if (ts.isExportDeclaration(node)) {
      const named = node.exportClause && ts.isNamedExports(node.exportClause) ? node.exportClause.elements : undefined;
      add(node.moduleSpecifier, node.isTypeOnly || (!!named && named.length > 0 && named.every((e) => e.isTypeOnly)));
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
      add(node.arguments[0], false);
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument)) {
      add(node.argument.literal, true);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

/** The README's floors, lowest first: the first fenced block after `## Layout` has one floor a line, highest first,
 *  its units joined by ` · ` and followed, two spaces on, by what the floor does. */
export function readFloors(readme = readFileSync(join(root, 'README.md'), 'utf8')): string[][] {
  const layout = readme.split(/^## Layout$/m)[1];
  const block = layout && /^```\w*\n([\s\S]*?)^```/m.exec(layout)?.[1];
  assert.ok(block, 'README.md: "## Layout" has no fenced block listing the floors');
  return block.split('\n').filter((l) => l.trim() !== '').map((l) => l.trim().split(/\s{2,}/)[0]!.split(/\s*·\s*/)).reverse();
}

/** `src/deploy/apply.ts` → `deploy`, `src/events.ts` → `events`. */
export function unitOf(file: string): string {
  const parts = file.split('/');
  return parts.length === 2 ? parts[1]!.replace(/\.tsx?$/, '') : parts[1]!;
}

const isPayload = (i: Import) => i.from === 'src/events.ts' && i.typeOnly && EVENT_PAYLOADS.includes(i.to);

/** Imports from a lower floor to a higher one (the event payloads excepted), and units on no floor. */
export function upwardImports(imports: readonly Import[], floors: readonly string[][]): string[] {
  const floorOf = new Map(floors.flatMap((units, i) => units.map((u) => [u, i] as const)));
  const problems = new Set<string>();
  for (const i of imports.filter((i) => !i.external)) {
    if (!i.to.startsWith('src/')) {
      problems.add(`${i.from} imports ${i.to}, no file of src/`);
      continue;
    }
    const [a, b] = [unitOf(i.from), unitOf(i.to)];
    for (const u of [a, b]) if (!floorOf.has(u)) problems.add(`src/${u} is on no floor of README.md's Layout`);
    if (floorOf.has(a) && floorOf.has(b) && floorOf.get(b)! > floorOf.get(a)! && !isPayload(i)) problems.add(`${i.from} imports ${i.to} (${b}, a floor above ${a})`);
  }
  return [...problems];
}

/** Every circle of imports (strongly connected components of more than one node), by `nodeOf` (file or folder). */
export function cycles(imports: readonly Import[], nodeOf: (file: string) => string = (f) => f): string[][] {
  const edges = new Map<string, Set<string>>();
  for (const i of imports.filter((i) => !i.external)) {
    const [a, b] = [nodeOf(i.from), nodeOf(i.to)];
    if (!edges.has(b)) edges.set(b, new Set());
    if (!edges.has(a)) edges.set(a, new Set());
    if (a !== b) edges.get(a)!.add(b);
  }
  // Tarjan's algorithm.
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const connect = (v: string): void => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    onStack.add(v);
    for (const w of edges.get(v)!) {
      if (!index.has(w)) {
        connect(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) !== index.get(v)) return;
    const component: string[] = [];
    let w: string;
    do {
      w = stack.pop()!;
      onStack.delete(w);
      component.push(w);
    } while (w !== v);
    if (component.length > 1) found.push(component.sort());
  };
  for (const v of edges.keys()) if (!index.has(v)) connect(v);
  return found;
}

const srcImports = sourceFiles('src').flatMap((f) => importsOf(f));

/** The packages a file loads at run time, through its value imports (types are erased) and theirs. */
export function packagesLoaded(imports: readonly Import[], file: string): string[] {
  const seen = new Set<string>([file]);
  const packages = new Set<string>();
  const queue = [file];
  for (let f = queue.pop(); f !== undefined; f = queue.pop()) {
    for (const i of imports) {
      if (i.from !== f || i.typeOnly) continue;
      if (i.external) packages.add(i.to);
      else if (!seen.has(i.to)) {
        seen.add(i.to);
        queue.push(i.to);
      }
    }
  }
  return [...packages].sort();
}

test('no file of src/ imports from a higher floor than its own (README.md, Layout)', () => {
  assert.deepEqual(upwardImports(srcImports, readFloors()), []);
});

test('no import cycles in src/, between files or between folders', () => {
  assert.deepEqual(cycles(srcImports), [], 'files');
  assert.deepEqual(cycles(srcImports.filter((i) => !isPayload(i)), unitOf), [], 'folders');
});

/** What pure code may load: config/hostspec.ts tells IPv6 addresses apart with `isIPv6`. */
const PURE_PACKAGES = ['node:net'];

test('src/plan is pure: what it loads at run time reads no file, runs no command, opens no connection', () => {
  const plan = sourceFiles('src/plan');
  const impure = (f: string) => packagesLoaded(srcImports, f).filter((p) => !PURE_PACKAGES.includes(p));
  assert.deepEqual(plan.map((f) => [f, impure(f)]), plan.map((f) => [f, []]));
});

test('no import cycles in the lab', () => {
  assert.deepEqual(cycles(sourceFiles('lab').flatMap((f) => importsOf(f)).filter((i) => i.to.startsWith('lab/'))), []);
});

test('the check itself: it finds an upward import, a circle, a unit on no floor, a package loaded; type-only payloads of events pass', () => {
  const floors = readFloors('## Layout\n\n```text\nplan            pure\nevents · goal   shared\n```\n'); // highest first, as in the README
  assert.deepEqual(floors, [['events', 'goal'], ['plan']]);
  const text = "import type { Plan } from './plan/types.js';\nexport { x } from './goal.js';\nconst y = await import('./plan/plan.js');\nlet z: import('./odd/z.js').Z;\n";
  const imports = importsOf('src/events.ts', text);
  assert.deepEqual(imports.map((i) => [i.to, i.typeOnly]), [['src/plan/types.ts', true], ['src/goal.ts', false], ['src/plan/plan.ts', false], ['./odd/z.js', true]]);
  assert.deepEqual(upwardImports(imports, floors), [
    'src/events.ts imports src/plan/plan.ts (plan, a floor above events)',
    'src/events.ts imports ./odd/z.js, no file of src/',
  ]);
  assert.deepEqual(upwardImports([{ from: 'src/goal.ts', to: 'src/odd/z.ts', typeOnly: true }], floors), ['src/odd is on no floor of README.md\'s Layout']);
  assert.deepEqual(packagesLoaded([
    { from: 'src/a/x.ts', to: 'src/a/y.ts', typeOnly: false }, { from: 'src/a/y.ts', to: 'node:fs', typeOnly: false, external: true },
    { from: 'src/a/x.ts', to: 'src/b/z.ts', typeOnly: true }, { from: 'src/b/z.ts', to: 'execa', typeOnly: false, external: true },
  ], 'src/a/x.ts'), ['node:fs'], 'through value imports, not type-only ones');
  const circle = [{ from: 'src/a/x.ts', to: 'src/b/y.ts', typeOnly: true }, { from: 'src/b/y.ts', to: 'src/a/z.ts', typeOnly: false }];
  assert.deepEqual(cycles(circle), []);
  assert.deepEqual(cycles(circle, unitOf), [['a', 'b']]);
  assert.deepEqual(cycles([...circle, { from: 'src/a/z.ts', to: 'src/a/x.ts', typeOnly: false }]), [['src/a/x.ts', 'src/a/z.ts', 'src/b/y.ts']]);
});
