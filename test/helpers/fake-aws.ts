/**
 * An HTTP endpoint that answers AWS JSON-protocol calls (routed by X-Amz-Target) and REST-JSON
 * calls (routed by `METHOD /path`, the last segment matching `*`) the way AWS does, and refuses, as AWS does, any request whose SigV4 signature the AWS SDK's signer does not
 * reproduce. Tests program the answers per target and read back the calls.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  type AwsJsonClientOptions,
  type AwsService,
  makeAwsJsonClient,
  makeAwsRestJsonClient,
} from '../../lib/adapters/aws/aws-json-client';
import { checkSignature, TEST_AWS_CREDENTIALS } from './aws-signature';

export interface FakeAnswer {
  status?: number;
  body?: unknown;
  headers?: Record<string, string>;
  /** Never answer (the client's timeout must fire). */
  hang?: boolean;
}
export type FakeRoute = (input: Record<string, unknown>, call: number) => FakeAnswer | Promise<FakeAnswer>;

export interface FakeAwsCall {
  target: string;
  input: Record<string, unknown>;
  headers: Record<string, string | string[] | undefined>;
}

export const startFakeAws = async (options: { service: string; region?: string }) => {
  const region = options.region ?? 'eu-west-3';
  const routes = new Map<string, FakeRoute>();
  const calls: FakeAwsCall[] = [];
  const counts = new Map<string, number>();
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const reply = ({ status = 200, body: answer = {}, headers = {} }: FakeAnswer) => {
        res.writeHead(status, {
          'content-type': 'application/x-amz-json-1.1',
          'x-amzn-requestid': `rid-${calls.length}`,
          ...headers,
        });
        res.end(typeof answer === 'string' ? answer : JSON.stringify(answer));
      };
      const problem = await checkSignature(
        { method: req.method!, path: req.url!, headers: req.headers, body },
        { service: options.service, region, credentials: TEST_AWS_CREDENTIALS },
      );
      if (problem)
        return reply({ status: 403, body: { __type: 'InvalidSignatureException', message: problem } });
      const path = req.url!.split('?')[0]!;
      const target = req.headers['x-amz-target']
        ? String(req.headers['x-amz-target'])
        : `${req.method} ${path}`;
      const input = JSON.parse(body || '{}') as Record<string, unknown>;
      calls.push({ target, input, headers: req.headers });
      const route = routes.get(target) ?? routes.get(`${req.method} ${path.replace(/\/[^/]*$/, '/*')}`);
      if (!route)
        return reply({ status: 400, body: { __type: 'UnknownOperationException', message: target } });
      const n = (counts.get(target) ?? 0) + 1;
      counts.set(target, n);
      const answer = await route(input, n);
      if (answer.hang) return;
      reply(answer);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    calls,
    /** The project's AWS client, pointed at this endpoint with the credentials it accepts. */
    client: (service: AwsService, overrides: Partial<AwsJsonClientOptions> = {}) =>
      makeAwsJsonClient({
        service,
        region,
        endpoint: url,
        credentials: () => TEST_AWS_CREDENTIALS,
        ...overrides,
      }),
    /** The project's REST-JSON client (EventBridge Scheduler), likewise. */
    restClient: (service: AwsService, overrides: Partial<AwsJsonClientOptions> = {}) =>
      makeAwsRestJsonClient({
        service,
        region,
        endpoint: url,
        credentials: () => TEST_AWS_CREDENTIALS,
        ...overrides,
      }),
    on(target: string, route: FakeRoute) {
      routes.set(target, route);
      counts.delete(target);
    },
    reset() {
      routes.clear();
      counts.clear();
      calls.length = 0;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
};
export type FakeAws = Awaited<ReturnType<typeof startFakeAws>>;
