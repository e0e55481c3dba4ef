/**
 * compliance-run: on a schedule (or on demand), plans the policy in the stack's bucket against
 * the fleet and reports the drift or requests the changes (the apply-worker carries them out).
 * Wiring and handler: lib/wiring/compliance-run.ts.
 */
import { makeComplianceRunHandler } from '../lib/wiring/compliance-run';

export const handler = makeComplianceRunHandler(process.env);
