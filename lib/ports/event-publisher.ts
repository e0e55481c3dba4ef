/** Publishes events on the bus; reports the ones that could not be published after its retries. */
import type { OutgoingEvent } from '../domain/audit-events';

/** Why an event was not published: the bus's code, and whether it may have been taken all the same. */
export interface PublishFailure {
  code: string;
  /** The last attempt got no answer (a timeout, a cut connection, a 5xx): the bus may have it. */
  maybePublished: boolean;
}

export interface EventPublisher {
  /** `why`, when the publisher knows it: per failed event, its last failure. */
  publish(
    events: readonly OutgoingEvent[],
  ): Promise<{ failed: OutgoingEvent[]; why?: Map<OutgoingEvent, PublishFailure> }>;
}
