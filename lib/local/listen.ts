/**
 * Where each part of the local pipeline listens: any free port, or a fixed one (`simulate
 * --pipeline --port-base N` gives the simulator N and the parts N+1 onwards, so that exports kept
 * from one start hold for the next). A port in use is a clear error naming it, never a hang.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ConfigError } from '../domain/errors';

/** The offsets from `--port-base` (the simulator takes the base itself). */
export const PORT_OFFSETS = {
  bus: 1,
  queue: 2,
  scheduler: 3,
  api: 4,
  dynamodb: 5,
  ticketing: 6,
} as const;
export type LocalPart = keyof typeof PORT_OFFSETS;

/** The port of `part` from a base (undefined: any free port). */
export const portOf = (base: number | undefined, part: LocalPart): number =>
  base === undefined ? 0 : base + PORT_OFFSETS[part];

/** Listens on 127.0.0.1:`port`, and says which part could not when the port is taken. */
export const listenOn = (server: Server, port: number, part: string): Promise<number> =>
  new Promise<number>((resolve, reject) => {
    const failed = (error: NodeJS.ErrnoException) =>
      reject(
        new ConfigError(
          error.code === 'EADDRINUSE'
            ? `port ${port} (the local ${part}) is in use: choose another --port-base, or leave it out for free ports`
            : `the local ${part} cannot listen on 127.0.0.1:${port}: ${error.code ?? error.message}`,
        ),
      );
    server.once('error', failed);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', failed);
      resolve((server.address() as AddressInfo).port);
    });
  });
