/**
 * Saved plans registered with the pipeline (`stickler plan --out FILE --pipeline`), by their
 * digest, so that a ticket may approve a plan by its digest and the ticket webhook applies exactly
 * that plan. The registry keeps what it is given and hands it back as stored: whoever reads a
 * plan checks it against the digest (anyone who may register could write any body under any
 * digest), and says whether it has expired.
 */
import type { SavedPlanBody } from '../domain/saved-plan';

/** A week: time for a ticket to be approved, short enough that an old plan is gone. */
export const PLAN_RETENTION_MS = 7 * 24 * 3600_000;

export interface RegisteredPlan {
  /** The plan's body as stored (JSON text), not checked. */
  body: string;
  /** When it expires (to the second): a plan read after this is expired, even if still stored. */
  expiresAt: Date;
}

export interface PlanRegistry {
  /**
   * Keeps the body under its digest until `expiresAt`, only if no live plan is kept under that
   * digest: `already` when one is (the same digest is the same content), and it is left as it was.
   */
  register(body: SavedPlanBody, digest: string, expiresAt: Date): Promise<'registered' | 'already'>;
  /** What is kept under the digest, expired or not (the reader decides), or undefined. */
  read(digest: string): Promise<RegisteredPlan | undefined>;
}
