/** The EventBridge envelope as EventBridge delivers events to targets (for example in an SQS message body). */
import * as z from 'zod/mini';

export const EventBridgeEnvelopeSchema = z.looseObject({
  version: z.string(),
  id: z.string(),
  'detail-type': z.string(),
  source: z.string(),
  account: z.string(),
  time: z.string(),
  region: z.string(),
  resources: z.array(z.string()),
  /** Set by EventBridge on events re-sent from an archive replay. */
  'replay-name': z.optional(z.string()),
  detail: z.unknown(),
});
export type EventBridgeEnvelope = z.infer<typeof EventBridgeEnvelopeSchema>;
