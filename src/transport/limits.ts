// How many connections a run holds at once (no imports: the CLI's help reads the defaults without loading transport).

export interface ConnectionLimits {
  /** Probes at once (--probe-parallel): each one ssh process, or two over a master. */
  probes: number;
  /** Idle masters kept for a node's next stage (apply: --parallel). */
  keepIdle: number;
}

/** 32 probes at once: about 100 probes a second (a probe is a handshake and a short command, ~0.3 s over a WAN),
 *  1000 nodes in ~10 s, while 32 ssh clients (~7 MB each) stay near 220 MB and ~130 file descriptors. */
export const DEFAULT_PROBE_PARALLEL = 32;
/** --parallel's default: as many idle masters as nodes at work. */
export const DEFAULT_KEEP_IDLE = 10;
