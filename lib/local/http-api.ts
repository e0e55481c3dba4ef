/**
 * A local stand-in for the API Gateway HTTP API: serves the routes with the same handlers as in
 * AWS, turning each HTTP request into a payload 2.0 event (the body kept byte for byte: base64
 * when it is not valid UTF-8, as API Gateway does for binary bodies) and the handler's result
 * back into an HTTP answer.
 */

import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { listenOn } from './listen';

export type HttpHandler = (
  event: APIGatewayProxyEventV2,
  context: Context,
) => Promise<APIGatewayProxyStructuredResultV2>;

export interface LocalRoute {
  method: string;
  /** `/webhooks/{source}`: `{name}` matches one path segment. */
  path: string;
  handler: HttpHandler;
}

export interface LocalHttpApi {
  url: string;
  close(): Promise<void>;
}

const BODY_LIMIT = 10 * 1024 * 1024; // API Gateway's payload limit

export const startLocalHttpApi = async (routes: readonly LocalRoute[], port = 0): Promise<LocalHttpApi> => {
  const compiled = routes.map((r) => ({
    ...r,
    names: [...r.path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]!),
    pattern: new RegExp(`^${r.path.replace(/\{\w+\}/g, '([^/]+)')}$`),
  }));
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size <= BODY_LIMIT) chunks.push(c);
    });
    req.on('end', async () => {
      const url = new URL(req.url ?? '/', 'http://local');
      const route = compiled.find((r) => r.method === req.method && r.pattern.test(url.pathname));
      if (!route || size > BODY_LIMIT) {
        res.writeHead(route ? 413 : 404, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ message: route ? 'Request Entity Too Large' : 'Not Found' }));
        return;
      }
      const values = route.pattern.exec(url.pathname)!.slice(1).map(decodeURIComponent);
      const raw = Buffer.concat(chunks);
      const text = raw.toString('utf8');
      const binary = !Buffer.from(text, 'utf8').equals(raw);
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(req.headers))
        if (v !== undefined) headers[k.toLowerCase()] = [v].flat().join(',');
      const event: APIGatewayProxyEventV2 = {
        version: '2.0',
        routeKey: `${route.method} ${route.path}`,
        rawPath: url.pathname,
        rawQueryString: url.search.replace(/^\?/, ''),
        headers,
        requestContext: {
          accountId: '000000000000',
          apiId: 'local',
          domainName: req.headers.host ?? 'localhost',
          domainPrefix: 'local',
          http: {
            method: route.method,
            path: url.pathname,
            protocol: 'HTTP/1.1',
            sourceIp: req.socket.remoteAddress ?? '127.0.0.1',
            userAgent: headers['user-agent'] ?? '',
          },
          requestId: randomUUID(),
          routeKey: `${route.method} ${route.path}`,
          stage: '$default',
          time: new Date().toUTCString(),
          timeEpoch: Date.now(),
        },
        pathParameters: Object.fromEntries(route.names.map((n, i) => [n, values[i]!])),
        body: binary ? raw.toString('base64') : text,
        isBase64Encoded: binary,
      };
      try {
        const result = await route.handler(event, {
          functionName: 'local',
          awsRequestId: randomUUID(),
          getRemainingTimeInMillis: () => 10_000,
        } as unknown as Context);
        res.writeHead(result.statusCode ?? 200, (result.headers ?? {}) as Record<string, string>);
        res.end(result.body ?? '');
      } catch {
        res.writeHead(502, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ message: 'Internal Server Error' }));
      }
    });
  });
  const listening = await listenOn(server, port, 'HTTP API');
  return {
    url: `http://127.0.0.1:${listening}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
};
