import type { RouteConfig } from './delivery-config.js';

export interface RoutingFacts {
  modality: string | null;
  serviceLevel: 'STAT' | 'ROUTINE';
  sourceWorkstation: string | null;
  facility: string | null;
  username: string;
  sopClassUid: string;
}

/**
 * Decides which destinations an instance goes to. Without rules every instance goes everywhere.
 * With rules, an instance goes to the union of the destinations of every rule it matches; an
 * instance no rule matches goes nowhere and is reported as unrouted rather than silently dropped.
 */
export class Router {
  constructor(private readonly routes: readonly RouteConfig[], private readonly destinations: readonly string[]) {}

  destinationsFor(facts: RoutingFacts): string[] {
    if (this.routes.length === 0) return [...this.destinations];
    const chosen = new Set<string>();
    for (const route of this.routes) {
      if (matches(route.match, facts)) for (const name of route.destinations) chosen.add(name);
    }
    // Keep configuration order, so status and logs list destinations predictably.
    return this.destinations.filter((name) => chosen.has(name));
  }
}

function matches(match: RouteConfig['match'], facts: RoutingFacts): boolean {
  return oneOf(match.modality, facts.modality)
    && oneOf(match.serviceLevel, facts.serviceLevel)
    && oneOf(match.sourceWorkstation, facts.sourceWorkstation)
    && oneOf(match.facility, facts.facility)
    && oneOf(match.user, facts.username)
    && oneOf(match.sopClass, facts.sopClassUid, true);
}

/** A criterion left out matches anything; names compare without regard to case, UIDs exactly. */
function oneOf(allowed: readonly string[] | undefined, value: string | null, exact = false): boolean {
  if (allowed === undefined) return true;
  if (value === null) return false;
  return exact ? allowed.includes(value) : allowed.some((a) => a.toLowerCase() === value.toLowerCase());
}
