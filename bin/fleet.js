#!/usr/bin/env node
// The published entry: runs the compiled CLI (build with `npm run build`).
await import('../dist/cli/bin.js');
