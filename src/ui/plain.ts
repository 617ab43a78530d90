// Line renderer for CI and pipes: one timestamped line per state change, then the report.
import type { FleetEvent } from '../events.js';
import { countOf, describePhase, firstLine, formatClock } from './labels.js';
import { createRunRecord, recordEvent } from './record.js';
import type { Renderer } from './renderer.js';
import { formatReport } from './report.js';
import { writeText } from './write.js';

const phaseWidth = 'rolling back'.length;

export function createPlainRenderer(out: NodeJS.WritableStream): Renderer {
  const record = createRunRecord();
  let subjectWidth = 0;
  let last = Promise.resolve();
  const emit = (time: string, subject: string, phase: string, detail = '') => {
    const text = `${formatClock(time)} ${subject.padEnd(subjectWidth)}  ${phase.padEnd(phaseWidth)}  ${detail}`;
    last = writeText(out, `${text.trimEnd()}\n`);
  };
  return {
    onEvent(e) {
      recordEvent(record, e);
      // Node lines align; longer subjects (build hosts) just push their own line right.
      if (e.type === 'run-start') subjectWidth = Math.max('fleet'.length, ...e.nodes.map((n) => n.length));
      describeLine(e, emit);
    },
    async finish() {
      await last;
      await writeText(out, formatReport(record));
    },
  };
}

type Emit = (time: string, subject: string, phase: string, detail?: string) => void;

function describeLine(e: FleetEvent, emit: Emit): void {
  switch (e.type) {
    case 'run-start':
      return emit(e.time, 'fleet', e.goal, `${countOf(e.nodes.length, 'node')}: ${e.nodes.join(', ')}`);
    case 'build-start':
      return emit(e.time, `build@${e.buildHost}`, 'building', `${countOf(e.drvPaths.length, 'derivation')} for ${e.nodes.join(', ')}`);
    case 'build-done':
      return emit(e.time, `build@${e.buildHost}`, e.ok ? 'built' : 'build failed', firstLine(e.error ?? ''));
    case 'node-phase':
      return emit(e.time, e.node, describePhase(e.phase), e.detail);
    case 'node-done':
      return emit(e.time, e.node, e.outcome, firstLine(e.error ?? ''));
    case 'summary':
      return emit(e.time, 'fleet', 'done', `exit code ${e.exitCode}`);
    case 'log':
      return emit(e.time, e.subject, '|', e.line);
  }
}
