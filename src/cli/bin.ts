// Process entry: everything else is importable and testable without exiting.
import { main } from './main.js';

await main(process.argv);
