/** Publishes events on the bus; reports the ones that could not be published after its retries. */
import type { OutgoingEvent } from '../domain/audit-events';

export interface EventPublisher {
  publish(events: readonly OutgoingEvent[]): Promise<{ failed: OutgoingEvent[] }>;
}
