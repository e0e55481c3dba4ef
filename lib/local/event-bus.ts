/**
 * A local stand-in for an EventBridge custom bus, reached over HTTP by the AWS SDK EventBridge
 * client or the worker's AWS client (set AWS_ENDPOINT_URL_EVENTBRIDGE to its url). It answers PutEvents as AWS does,
 * keeps every event (like the bus archive), and delivers events matching a rule's detail-type
 * to targets, wrapped in the EventBridge envelope. Request signatures are not checked.
 */

import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { EventBridgeEnvelope } from '../adapters/eventbridge/envelope';
import { listenOn } from './listen';

export interface LocalRule {
  detailTypes: readonly string[];
  target: (envelope: EventBridgeEnvelope) => void;
}

export interface LocalEventBus {
  url: string;
  /** Every event put on the bus, in order (the archive). */
  events: EventBridgeEnvelope[];
  addRule(rule: LocalRule): void;
  /** Puts one entry on the bus, as PutEvents would (what a scheduled target does). */
  put(entry: PutEntry): { EventId: string } | { ErrorCode: string; ErrorMessage: string };
  onEvent(listener: (envelope: EventBridgeEnvelope) => void): void;
  close(): Promise<void>;
}

export interface PutEntry {
  Source?: string;
  DetailType?: string;
  Detail?: string;
  EventBusName?: string;
  Time?: number | string;
  Resources?: string[];
}

export const startLocalEventBus = async (options: {
  busName: string;
  region: string;
  account?: string;
  port?: number;
}) => {
  const rules: LocalRule[] = [];
  const listeners: ((e: EventBridgeEnvelope) => void)[] = [];
  const events: EventBridgeEnvelope[] = [];
  const fail = (code: string, message: string) => ({ ErrorCode: code, ErrorMessage: message });

  const put = (entry: PutEntry) => {
    if (
      entry.EventBusName &&
      entry.EventBusName !== options.busName &&
      !entry.EventBusName.endsWith(`/${options.busName}`)
    ) {
      return fail('ResourceNotFoundException', `Event bus ${entry.EventBusName} does not exist.`);
    }
    if (!entry.Source || !entry.DetailType || entry.Detail === undefined) {
      return fail('MalformedDetail', 'Source, DetailType and Detail are required.');
    }
    let detail: unknown;
    try {
      detail = JSON.parse(entry.Detail);
    } catch {
      return fail('MalformedDetail', 'Detail is malformed.');
    }
    const time =
      typeof entry.Time === 'number'
        ? new Date(entry.Time * 1000)
        : entry.Time
          ? new Date(entry.Time)
          : new Date();
    const envelope: EventBridgeEnvelope = {
      version: '0',
      id: randomUUID(),
      'detail-type': entry.DetailType,
      source: entry.Source,
      account: options.account ?? '000000000000',
      time: time.toISOString().replace(/\.\d{3}Z$/, 'Z'),
      region: options.region,
      resources: entry.Resources ?? [],
      detail,
    };
    events.push(envelope);
    for (const listener of listeners) listener(envelope);
    for (const rule of rules) if (rule.detailTypes.includes(envelope['detail-type'])) rule.target(envelope);
    return { EventId: envelope.id };
  };

  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const target = req.headers['x-amz-target'];
      const reply = (status: number, body: unknown) => {
        res.writeHead(status, {
          'Content-Type': 'application/x-amz-json-1.1',
          'x-amzn-RequestId': randomUUID(),
        });
        res.end(JSON.stringify(body));
      };
      if (target === 'AWSEvents.DescribeEventBus') {
        // For `stickler doctor`: this bus, by name or ARN; any other does not exist here.
        let name: unknown;
        try {
          name = (JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as { Name?: unknown }).Name;
        } catch {
          return reply(400, { __type: 'SerializationException', message: 'body is not JSON' });
        }
        const arn = `arn:aws:events:${options.region}:${options.account ?? '000000000000'}:event-bus/${options.busName}`;
        return name === options.busName || name === arn
          ? reply(200, { Name: options.busName, Arn: arn })
          : reply(400, {
              __type: 'ResourceNotFoundException',
              message: `Event bus ${typeof name === 'string' ? name.slice(0, 256) : '?'} does not exist.`,
            });
      }
      if (target !== 'AWSEvents.PutEvents') {
        return reply(400, {
          __type: 'UnknownOperationException',
          message: `${String(target)} is not served locally`,
        });
      }
      let body: { Entries?: PutEntry[] };
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      } catch {
        return reply(400, { __type: 'SerializationException', message: 'body is not JSON' });
      }
      const entries = body.Entries ?? [];
      if (entries.length === 0 || entries.length > 10) {
        return reply(400, { __type: 'ValidationException', message: 'Entries must hold 1 to 10 entries' });
      }
      const answers = entries.map(put);
      reply(200, { FailedEntryCount: answers.filter((a) => 'ErrorCode' in a).length, Entries: answers });
    });
  });
  const port = await listenOn(server, options.port ?? 0, 'event bus');
  const bus: LocalEventBus = {
    url: `http://127.0.0.1:${port}`,
    events,
    addRule: (rule) => rules.push(rule),
    put,
    onEvent: (listener) => listeners.push(listener),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
  return bus;
};
