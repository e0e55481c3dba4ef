/** A farm as stickler sees it: where it lives, what it is called and what stickiness it stores. */
import type { FarmType, Stickiness } from './stickiness';

/** The zone value OVH uses for a farm deployed in every zone of its service. */
export const ALL_ZONES = 'all';

export interface FarmRef {
  service: string;
  type: FarmType;
  farmId: number;
}

export interface Farm extends FarmRef {
  zone: string;
  displayName: string | null;
  /** Stored (not necessarily applied) stickiness; always null for UDP farms. */
  stickiness: Stickiness;
}

/**
 * An OVH IP Load Balancer service name as stickler accepts it: letters, digits, `.`, `_`, `-`,
 * starting with a letter or a digit (`loadbalancer-1a2b…`, `ip-203.0.113.7`); never empty, `.`
 * or `..`, which would change the path of an API call.
 */
export const SERVICE_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
export const SERVICE_NAME_RULE =
  'a load balancer service name is 1 to 128 letters, digits, . _ -, starting with a letter or a digit';

export const farmKey = (ref: FarmRef): string => `${ref.service}/${ref.type}/${ref.farmId}`;

export const formatFarmRef = (ref: FarmRef): string => `${ref.service} ${ref.type}/${ref.farmId}`;
