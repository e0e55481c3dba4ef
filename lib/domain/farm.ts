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

export const farmKey = (ref: FarmRef): string => `${ref.service}/${ref.type}/${ref.farmId}`;

export const formatFarmRef = (ref: FarmRef): string => `${ref.service} ${ref.type}/${ref.farmId}`;
