#!/usr/bin/env node
// The published entry: runs the compiled CLI (build with `npm run build`).
import('../dist/cli/main.js').then((m) => m.main(process.argv));
