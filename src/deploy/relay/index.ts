// Store-and-forward through a relay (a target's last jump host): the package crosses Ferry's link to the relay once,
// and for each target behind it the relay's own `ssh` runs the target's release program (release/program.ts) fed from
// that copy: one command on the target, as for a direct host, and one `ssh` command on the relay per target. Ferry
// keeps every key: the relay's ssh signs through Ferry's in-memory agent (agent forwarding) and trusts only the
// targets' pinned host keys, written to a temporary known_hosts. Nothing secret is ever written on the relay.
//
// In `auto` mode a small package is tunnelled instead (the relay's extra shell and ssh process per target cost more
// than sending the bytes again); a target whose key is not pinned yet is first pinned through the tunnel.
import { RELAY_TUNNEL_MAX_BYTES } from '../../config.ts';
import type { RelayLeg } from '../release/publish.ts';
import type { HostPlan } from '../runner-types.ts';
import { FALLBACK, Relay, relayKeyOf, storeForwardObstacle, type RelayPhase, type RelayStagingOptions } from './relay.ts';

/** Where a host's progress goes. */
export interface HostReporter {
  phase(phase: RelayPhase): void;
  output(text: string): void;
}

/** How a host gets its release program run. */
type Routing =
  /** Ferry runs it on its own session to the host (direct, or streamed through the jump hosts' tunnel). */
  | { kind: 'direct' }
  /** The relay holds the package and runs the program on the host; call `done` when the host is finished. */
  | { kind: 'relay'; leg: RelayLeg }
  | { kind: 'failed'; phase: RelayPhase; error: string };


type Route =
  /** No relay in the way, or the tunnel was chosen: nothing to say. */
  | { via: 'self' }
  /** 'auto' found store-and-forward impossible before starting; the host is told why. */
  | { via: 'tunnel'; notice: string }
  /** 'store-forward' was asked for but cannot work for this host. */
  | { via: 'refused'; error: string }
  | { via: 'relay'; relay: Relay; strict: boolean };

/**
 * Groups a job's hosts by relay and starts, at once and concurrently, one package upload per relay. Use per host:
 * `whenReady` outside the job's concurrency bound, then `route` inside it, `done` when the host is finished, and
 * `close` once the job is over.
 */
export function startRelayStaging(hosts: readonly HostPlan[], opts: RelayStagingOptions): RelayStaging {
  return new RelayStaging(hosts, opts);
}

class RelayStaging {
  private readonly routes = new Map<HostPlan, Route>();
  private readonly relays: Relay[] = [];

  constructor(hosts: readonly HostPlan[], opts: RelayStagingOptions) {
    const behind = new Map<string, HostPlan[]>();
    for (const plan of hosts) {
      // A relay's own relay (multi-level jumps) is just the way to it: the last jump host is the one that copies.
      const jump = plan.target.jump;
      if (!jump || plan.relayMode === 'tunnel') {
        this.routes.set(plan, { via: 'self' });
        continue;
      }
      const key = relayKeyOf(jump);
      behind.set(key, [...(behind.get(key) ?? []), plan]);
    }
    const limit = opts.tunnelMaxBytes ?? RELAY_TUNNEL_MAX_BYTES;
    for (const plans of behind.values()) {
      const auto = plans.filter((plan) => plan.relayMode === 'auto');
      // Small packages go through the tunnel: each host then costs one login and one command, nothing on the relay.
      const tunnelAuto = opts.wire.feed.sizeHint * auto.length < limit;
      let relay: Relay | null = null;
      for (const plan of plans) {
        if (plan.relayMode === 'auto' && tunnelAuto) {
          this.routes.set(plan, { via: 'self' });
          continue;
        }
        const obstacle = storeForwardObstacle(plan, plan.target.jump!);
        if (obstacle) {
          this.routes.set(plan, plan.relayMode === 'auto' ? { via: 'tunnel', notice: obstacle } : { via: 'refused', error: `store-and-forward is not possible: ${obstacle}` });
          continue;
        }
        relay ??= new Relay(plan.target.jump!, opts);
        relay.add(plan);
        this.routes.set(plan, { via: 'relay', relay, strict: plan.relayMode === 'store-forward' });
      }
      if (relay) this.relays.push(relay);
    }
    for (const relay of this.relays) relay.start();
  }

  /** Resolves once the host's relay holds the package (or failed to); at once for hosts that use no relay. Never rejects. */
  async whenReady(plan: HostPlan, report: HostReporter): Promise<void> {
    const route = this.routes.get(plan);
    if (route?.via !== 'relay') return;
    report.phase('staging');
    await route.relay.ready;
  }

  /**
   * How the host's program runs. 'auto' hosts fall back to the tunnel when the relay cannot help (saying why in their
   * output); 'store-forward' hosts fail instead, since the operator asked not to send the package once per host over
   * the relay link. Never rejects.
   */
  async route(plan: HostPlan, report: HostReporter): Promise<Routing> {
    const route = this.routes.get(plan) ?? { via: 'self' };
    switch (route.via) {
      case 'self':
        return { kind: 'direct' };
      case 'tunnel':
        report.output(`${route.notice}: ${FALLBACK}\n`);
        return { kind: 'direct' };
      case 'refused':
        return { kind: 'failed', phase: 'staging', error: route.error };
      case 'relay': {
        const { relay, strict } = route;
        // A failed relay upload fails or reroutes every host behind it with the same reason.
        const problem = await relay.ready;
        if (problem === null) return { kind: 'relay', leg: relay.legFor(plan) };
        relay.done(plan);
        if (strict) return { kind: 'failed', phase: 'staging', error: problem };
        report.output(`${problem}: ${FALLBACK}\n`);
        return { kind: 'direct' };
      }
    }
  }

  /** The host is finished with its relay; after the last one, the relay is cleaned up at once. */
  done(plan: HostPlan): void {
    const route = this.routes.get(plan);
    if (route?.via === 'relay') route.relay.done(plan);
  }

  /** Removes what is left on the relays and closes their sessions; safe to call more than once. */
  async close(): Promise<void> {
    await Promise.all(this.relays.map((relay) => relay.close()));
  }
}

