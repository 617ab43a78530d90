// The `--on` selector language: parse once, select nodes by name, glob and tag with union/&/!.
export { parseSelector, type Selector, type Term, type TermOp } from './parse.js';
export { selectNodes } from './evaluate.js';
