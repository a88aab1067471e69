// What bench:publish measures (issue "2/5 Fast path"): named scenarios, each one or more cases (a payload published to
// a set of hosts), the methods compared, and the targets Ferry is held to in each case.
import { FIELD_LIMITS } from '../../../src/config.ts';
import { intFlag, parseFlags } from '../common.ts';

export const SCENARIOS = ['small', 'build', 'fleet', 'single', 'memory'] as const;
export type ScenarioName = (typeof SCENARIOS)[number];
/** `--scenario all`. The memory scenario (a 1 GiB file) takes minutes and runs only when named. */
const ALL_SCENARIOS: ScenarioName[] = ['small', 'build', 'fleet', 'single'];

export const METHODS = ['ferry', 'loop', 'ansible'] as const;
export type Method = (typeof METHODS)[number];

/** small: one ~1 KB config file; build: a big incompressible file + small files; huge: the memory scenario's build. */
export type PayloadKind = 'small' | 'build' | 'huge';

/** One payload to one set of hosts, measured with every method `runs` times. */
export interface BenchCase {
  id: string;
  payload: PayloadKind;
  /** The first `hosts` targets of the fleet (every fourth one is behind the relay). */
  hosts: number;
  /** Ferry's project concurrency; the ssh loop and Ansible always run all hosts at once. */
  concurrency: number;
  /** Ferry's median wall time may be at most this multiple of the ssh loop's median (null: no time target). */
  maxRatio: number | null;
  /** Ferry's peak RSS during the publish may be at most this many bytes. */
  maxRssBytes: number | null;
}

export interface BenchOptions {
  scenarios: ScenarioName[];
  runs: number;
  /** Uncounted runs of every method before the counted ones (Ferry's first publish of a project checks out its working copy and packs). */
  warmup: number;
  /** --concurrency; null = the number of hosts (50 for the fleet), capped at what Ferry accepts. */
  concurrency: number | null;
  methods: Method[];
  /** --clean-home: the targets' login shells start nothing (no .bashrc). */
  cleanHome: boolean;
  /** CPU milliseconds the targets' .bashrc is calibrated to burn. */
  shellCostMs: number;
  hosts: number;
  fleetHosts: number;
  buildMb: number;
  buildFiles: number;
  hugeMb: number;
  /** Seconds to wait for a quiet machine before each run (other people's tests share it). */
  quietWaitS: number;
  breakdown: boolean;
  keep: boolean;
}

export const USAGE = `npm run bench:publish -- [--scenario small|build|fleet|single|memory|all[,...]] [--runs 3] [--warmup 1] [--concurrency N]
  [--only ferry,loop,ansible] [--clean-home] [--shell-ms 150] [--hosts 12] [--fleet 64] [--size 32] [--files 300]
  [--huge-size 1024] [--quiet-wait 120] [--breakdown] [--keep]`;

/** Every fourth target (t04, t08, ...) sits behind the relay: 3 of 12, 16 of 64, none of 1. */
export const isRelayed = (index: number) => index % 4 === 3;
export const relayedCount = (hosts: number) => Math.floor(hosts / 4);

/** 200 MB as the issue writes it (decimal): 190.7 MiB. */
const RSS_LIMIT = 200_000_000;
const FLEET_CONCURRENCY = 50;

export function parseOptions(argv: string[]): BenchOptions {
  const flags = parseFlags(argv);
  if (flags.has('help')) {
    process.stdout.write(`${USAGE}\n`);
    process.exit(0);
  }
  const known = ['scenario', 'runs', 'warmup', 'concurrency', 'only', 'clean-home', 'shell-ms', 'hosts', 'fleet', 'size', 'files', 'huge-size', 'quiet-wait', 'breakdown', 'keep'];
  for (const name of flags.keys()) if (!known.includes(name)) throw new Error(`unknown flag --${name}\n${USAGE}`);
  const scenarios = listFlag(flags.get('scenario') ?? 'all', [...SCENARIOS, 'all'] as const, 'scenario').flatMap((s) => (s === 'all' ? ALL_SCENARIOS : [s]));
  return {
    scenarios: [...new Set(scenarios)],
    runs: intFlag(flags, 'runs', 3),
    warmup: flags.get('warmup') === '0' ? 0 : intFlag(flags, 'warmup', 1),
    concurrency: flags.has('concurrency') ? intFlag(flags, 'concurrency', 1) : null,
    methods: listFlag(flags.get('only') ?? METHODS.join(','), METHODS, 'only'),
    cleanHome: flags.has('clean-home'),
    shellCostMs: intFlag(flags, 'shell-ms', 150),
    hosts: intFlag(flags, 'hosts', 12),
    fleetHosts: intFlag(flags, 'fleet', 64),
    buildMb: intFlag(flags, 'size', 32),
    buildFiles: intFlag(flags, 'files', 300),
    hugeMb: intFlag(flags, 'huge-size', 1024),
    quietWaitS: flags.get('quiet-wait') === '0' ? 0 : intFlag(flags, 'quiet-wait', 120),
    breakdown: flags.has('breakdown'),
    keep: flags.has('keep'),
  };
}

function listFlag<T extends string>(raw: string, allowed: readonly T[], name: string): T[] {
  const values = raw.split(',').map((v) => v.trim()).filter(Boolean);
  const bad = values.find((v) => !(allowed as readonly string[]).includes(v));
  if (bad !== undefined) throw new Error(`--${name}: unknown value "${bad}" (use ${allowed.join(', ')})`);
  return values as T[];
}

/** The cases of the chosen scenarios, in the order they run. */
export function casesOf(opts: BenchOptions): BenchCase[] {
  const concurrency = (hosts: number, fallback = hosts) => Math.min(opts.concurrency ?? fallback, FIELD_LIMITS.concurrency.max);
  const one = (id: string, payload: PayloadKind, hosts: number, maxRatio: number | null, extra: Partial<BenchCase> = {}): BenchCase =>
    ({ id, payload, hosts, concurrency: concurrency(hosts), maxRatio, maxRssBytes: null, ...extra });
  const fleet = { concurrency: concurrency(opts.fleetHosts, FLEET_CONCURRENCY) };
  const byScenario: Record<ScenarioName, BenchCase[]> = {
    small: [one('small', 'small', opts.hosts, 1.3)],
    build: [one('build', 'build', opts.hosts, 1.2)],
    fleet: [
      one('fleet-small', 'small', opts.fleetHosts, 1.3, fleet),
      one('fleet-build', 'build', opts.fleetHosts, 1.3, { ...fleet, maxRssBytes: RSS_LIMIT }),
    ],
    single: [one('single-small', 'small', 1, 1.5), one('single-build', 'build', 1, 1.5)],
    memory: [one('memory', 'huge', opts.hosts, null, { maxRssBytes: RSS_LIMIT })],
  };
  return opts.scenarios.flatMap((s) => byScenario[s]);
}
