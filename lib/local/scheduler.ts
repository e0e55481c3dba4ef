/**
 * A local stand-in for EventBridge Scheduler's one-time schedules with an EventBridge target,
 * reached over HTTP by the worker's Scheduler client (AWS_ENDPOINT_URL_SCHEDULER): CreateSchedule
 * (`POST /schedules/{Name}`) with an `at(...)` expression puts the target's input on the local
 * bus at that time; a name already taken answers ConflictException, as AWS does; DeleteSchedule
 * (`DELETE /schedules/{Name}`) removes one that has not fired (ResourceNotFoundException
 * otherwise). Request signatures are not checked.
 */

import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { LocalEventBus } from './event-bus';
import { listenOn } from './listen';

interface CreateSchedule {
  ScheduleExpression?: string;
  Target?: { Input?: string; EventBridgeParameters?: { DetailType?: string; Source?: string } };
}

interface ScheduleEntry {
  at: Date;
  fired: boolean;
  timer: NodeJS.Timeout;
}

const MAX_TIMER_MS = 2 ** 31 - 1;

export interface LocalScheduler {
  url: string;
  /** Schedules waiting or fired, by name, with when they fire (a deleted one is gone). */
  schedules: Map<string, { at: Date; fired: boolean }>;
  close(): Promise<void>;
}

export const startLocalScheduler = async (
  bus: LocalEventBus,
  options: { groupName?: string; port?: number } = {},
): Promise<LocalScheduler> => {
  const groupName = options.groupName ?? 'stickler-local';
  const schedules = new Map<string, ScheduleEntry>();
  const timers = new Set<NodeJS.Timeout>();
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const reply = (status: number, body: unknown, errorType?: string) => {
        res.writeHead(status, {
          'Content-Type': 'application/json',
          'x-amzn-RequestId': randomUUID(),
          ...(errorType ? { 'x-amzn-ErrorType': errorType } : {}),
        });
        res.end(JSON.stringify(body));
      };
      // GetScheduleGroup, for `stickler doctor`: the one group the worker schedules in.
      const group = /^\/schedule-groups\/([0-9a-zA-Z_.-]{1,64})(?:\?.*)?$/.exec(req.url ?? '')?.[1];
      if (req.method === 'GET' && group)
        return group === groupName
          ? reply(200, {
              Name: group,
              Arn: `arn:aws:scheduler:local:000000000000:schedule-group/${group}`,
              State: 'ACTIVE',
            })
          : reply(404, { Message: `Schedule group ${group} does not exist.` }, 'ResourceNotFoundException');
      const name = /^\/schedules\/([0-9a-zA-Z_.-]{1,64})(?:\?.*)?$/.exec(req.url ?? '')?.[1];
      if (req.method === 'DELETE' && name) {
        const entry = schedules.get(name);
        if (!entry || entry.fired)
          return reply(404, { Message: `Schedule ${name} does not exist.` }, 'ResourceNotFoundException');
        clearTimeout(entry.timer);
        timers.delete(entry.timer);
        schedules.delete(name);
        return reply(200, {});
      }
      if (req.method !== 'POST' || !name) {
        return reply(
          404,
          { Message: `${req.method} ${req.url} is not served locally` },
          'ResourceNotFoundException',
        );
      }
      let body: CreateSchedule;
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as CreateSchedule;
      } catch {
        return reply(400, { Message: 'body is not JSON' }, 'ValidationException');
      }
      const at = /^at\((\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)\)$/.exec(body.ScheduleExpression ?? '')?.[1];
      const params = body.Target?.EventBridgeParameters;
      if (!at || !params?.DetailType || !params.Source || body.Target?.Input === undefined) {
        return reply(
          400,
          { Message: 'an at() expression and an EventBridge target are required' },
          'ValidationException',
        );
      }
      if (schedules.has(name)) {
        return reply(409, { Message: `Schedule ${name} already exists.` }, 'ConflictException');
      }
      const when = new Date(`${at}Z`);
      const entry: ScheduleEntry = { at: when, fired: false, timer: undefined as unknown as NodeJS.Timeout };
      schedules.set(name, entry);
      // A timer holds at most 2^31-1 ms (24.8 days): a later time is reached in steps.
      const arm = () => {
        const wait = when.getTime() - Date.now();
        entry.timer = setTimeout(
          () => {
            timers.delete(entry.timer);
            if (when.getTime() > Date.now()) return arm();
            entry.fired = true;
            bus.put({ Source: params.Source, DetailType: params.DetailType, Detail: body.Target!.Input });
          },
          Math.min(MAX_TIMER_MS, Math.max(0, wait)),
        );
        timers.add(entry.timer);
      };
      arm();
      reply(200, { ScheduleArn: `arn:aws:scheduler:local:000000000000:schedule/local/${name}` });
    });
  });
  const listening = await listenOn(server, options.port ?? 0, 'scheduler');
  return {
    url: `http://127.0.0.1:${listening}`,
    schedules,
    close: () => {
      for (const t of timers) clearTimeout(t);
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
};
