// `fleet status --format prometheus`: every node's state as gauges, for node_exporter's textfile directory or a
// Pushgateway. A node that could not be evaluated keeps its series (state `evaluation-failed`): an alert on a
// series that vanished is easy to miss.
import { NODE_STATES, type NodeStatus } from '../status/classify.js';
import { epochSeconds, formatExposition, listLabel, type Labels, type MetricFamily, type Sample } from './prometheus.js';

/** What identifies a node in its series: from the fleet file. */
export interface NodeLabels {
  node: string;
  tags: readonly string[];
  buildHost: string;
}

/** The one-hot state a node without a status gets: its system could not be evaluated, so it was not asked. */
export const EVALUATION_FAILED = 'evaluation-failed';
export const METRIC_STATES = [...NODE_STATES, EVALUATION_FAILED] as const;

export interface StatusMetricsInput {
  /** Every selected node, in fleet-file order. */
  nodes: readonly NodeLabels[];
  statuses: readonly NodeStatus[];
  /** When the status was taken. */
  time: Date;
}

const flag = (on: boolean) => (on ? 1 : 0);

export function formatStatusMetrics(input: StatusMetricsInput): string {
  const byNode = new Map(input.statuses.map((s) => [s.node, s]));
  const rows = input.nodes.map((n) => ({ labels: { node: n.node, tags: listLabel(n.tags), build_host: n.buildHost } as Labels, status: byNode.get(n.node) }));
  // Known only for a node that answered: an unreachable or unevaluated node has no such sample.
  const answered = rows.filter((r) => r.status?.system !== undefined);
  const per = (value: (s: NodeStatus) => number | undefined) => answered.flatMap((r): Sample[] => {
    const v = value(r.status!);
    return v === undefined ? [] : [{ labels: r.labels, value: v }];
  });
  const families: MetricFamily[] = [
    {
      name: 'fleet_node_in_sync', type: 'gauge',
      help: 'Whether the node runs the system the fleet file wants (fleet status: in-sync): 1 yes, 0 no or unknown.',
      samples: rows.map((r) => ({ labels: r.labels, value: flag(r.status?.state === 'in-sync') })),
    },
    {
      name: 'fleet_node_state', type: 'gauge',
      help: `The node's fleet status state, one-hot: 1 for its state, 0 for the others (${METRIC_STATES.join(', ')}).`,
      samples: rows.flatMap((r) => METRIC_STATES.map((state) => ({ labels: { ...r.labels, state }, value: flag((r.status?.state ?? EVALUATION_FAILED) === state) }))),
    },
    {
      name: 'fleet_node_generation', type: 'gauge',
      help: 'The generation number of the system profile on the node.',
      samples: per((s) => s.system?.generation),
    },
    {
      name: 'fleet_node_last_deploy_timestamp_seconds', type: 'gauge',
      help: "When fleet last changed the node (its newest deploy or rollback record), by the deployer's clock, in seconds since the epoch.",
      samples: per((s) => (s.lastDeploy ? epochSeconds(s.lastDeploy.time) : undefined)),
    },
    {
      name: 'fleet_node_reboot_pending', type: 'gauge',
      help: 'Whether the desired system waits for a reboot (fleet status: pending-reboot).',
      samples: per((s) => flag(s.state === 'pending-reboot')),
    },
    {
      name: 'fleet_node_lock_held', type: 'gauge',
      help: "Whether another live run holds the node's lock (a deploy is running on it).",
      samples: per((s) => flag(s.lock?.state === 'held' && !s.lock.expired)),
    },
    {
      name: 'fleet_status_timestamp_seconds', type: 'gauge',
      help: 'When this fleet status was taken, in seconds since the epoch (a scrape of an old file shows it).',
      samples: [{ value: epochSeconds(input.time) }],
    },
  ];
  return formatExposition(families);
}
