// The interactive terminal UI (ink): `fleet apply -i` / `fleet rollback -i` and `fleet status --watch`.
// It reads only the run view (src/ui/view.ts) and sends only commands (src/steer.ts); it never calls deploy.
export { createInteractiveRenderer, type InteractiveRenderer } from './apply-renderer.js';
export { createStatusWatch, type StatusWatch } from './status-renderer.js';
