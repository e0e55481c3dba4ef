import { EventEmitter } from 'node:events';
import https from 'node:https';
import ovh from 'ovh';
import { signRequest } from '../../../lib/adapters/ovh/signature';

const credentials = { appKey: 'ak-123', appSecret: 'as-456', consumerKey: 'ck-789' };

describe('signRequest', () => {
  it('matches the official ovh client for the same request', () => {
    const official = ovh({ ...credentials, endpoint: 'ovh-eu' });
    const url = 'https://eu.api.ovh.com/1.0/ipLoadbalancing/loadbalancer-x/http/farm/12';
    const body = JSON.stringify({ stickiness: 'cookie' });
    expect(
      signRequest({
        applicationSecret: credentials.appSecret,
        consumerKey: credentials.consumerKey,
        method: 'PUT',
        url,
        body,
        timestamp: 1_764_000_000,
      }),
    ).toBe(official.signRequest('PUT', url, body, 1_764_000_000));
  });

  it('matches the headers the official client actually sends on the wire', async () => {
    // Capture the request the ovh package builds, instead of trusting its helper alone.
    const captured: { headers?: Record<string, string>; path?: string; body?: string } = {};
    const spy = jest.spyOn(https, 'request').mockImplementation(((options: {
      headers: Record<string, string>;
      path: string;
    }) => {
      captured.headers = options.headers;
      captured.path = options.path;
      const req = new EventEmitter() as EventEmitter & {
        write: (b: string) => void;
        end: () => void;
        setTimeout: () => void;
      };
      req.write = (b: string) => {
        captured.body = b;
      };
      req.end = () => undefined;
      req.setTimeout = () => undefined;
      return req;
    }) as unknown as typeof https.request);
    try {
      const official = ovh({ ...credentials, endpoint: 'ovh-eu', apiTimeDiff: 5 });
      void official.request(
        'PUT',
        '/ipLoadbalancing/lb-1/tcp/farm/7',
        { stickiness: 'sourceIp' },
        () => undefined,
      );
      await new Promise((r) => setImmediate(r));
    } finally {
      spy.mockRestore();
    }
    const headers = captured.headers!;
    expect(
      signRequest({
        applicationSecret: credentials.appSecret,
        consumerKey: credentials.consumerKey,
        method: 'PUT',
        url: `https://eu.api.ovh.com${captured.path}`,
        body: captured.body ?? '',
        timestamp: Number(headers['X-Ovh-Timestamp']),
      }),
    ).toBe(headers['X-Ovh-Signature']);
  });
});
