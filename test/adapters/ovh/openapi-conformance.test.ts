import { makeApplyPlan } from '../../../lib/app/apply-plan';
import { makeApplyRequests } from '../../../lib/app/apply-requests';
import { makeDiscoverFleet } from '../../../lib/app/discover-fleet';
import { planFromPolicy } from '../../../lib/domain/plan';
import { parsePolicy } from '../../../lib/domain/policy-file';
import { systemClock } from '../../../lib/ports/clock';
import { aChangeRequest } from '../../helpers/factories';
import { checkExchange, type Exchange } from '../../helpers/ovh-openapi';
import { type SimulatorHarness, startHarness } from '../../helpers/simulator';

/**
 * Contract test: a whole reconcile and a batch of requests, every call recorded on the wire and
 * checked against OVH's official OpenAPI document: the operation exists, its query parameters
 * are declared, the body stickler sends fits the request schema (no read-only field), and the
 * simulator's answer fits the response schema.
 */
describe('every call stickler makes, against the official OVH OpenAPI document', () => {
  let h: SimulatorHarness;
  const exchanges: Exchange[] = [];
  beforeAll(async () => {
    h = await startHarness(
      {},
      {
        fetch: async (input, init) => {
          const response = await fetch(input, init);
          const text = await response.clone().text();
          const url = new URL(String(input));
          exchanges.push({
            method: init?.method ?? 'GET',
            path: url.pathname.replace(/^\/1\.0/, ''),
            query: url.searchParams,
            requestBody: init?.body ? JSON.parse(String(init.body)) : undefined,
            status: response.status,
            responseBody: text ? JSON.parse(text) : undefined,
          });
          return response;
        },
      },
    );
    const policy = parsePolicy(
      'version: 1\nrules:\n  - match: { type: http }\n    stickiness: cookie\n  - match: { type: tcp }\n    stickiness: none\n',
    );
    const fleet = await makeDiscoverFleet({ api: h.api })();
    const options = { allowForeignPending: false, taskTimeoutMs: 2_000, pollIntervalMs: 10 };
    await makeApplyPlan({ api: h.api, clock: systemClock })(planFromPolicy(fleet, policy), options);
    await makeApplyRequests({ api: h.api, clock: systemClock })(
      [
        aChangeRequest({ requestId: 'a', service: 'loadbalancer-aaa', farmId: 1, stickiness: 'none' }),
        aChangeRequest({
          requestId: 'b',
          service: 'loadbalancer-aaa',
          farmType: 'tcp',
          farmId: 3,
          stickiness: 'sourceIp',
        }),
      ],
      options,
    );
  }, 30_000);
  afterAll(() => h.close());

  it('exercised every kind of call', () => {
    const kinds = new Set(exchanges.map((x) => `${x.method} ${x.path.replace(/[^/]+\/(\d+)$/, '…/$1')}`));
    expect(
      exchanges.some(
        (x) =>
          x.method === 'PUT' &&
          x.requestBody &&
          (x.requestBody as { stickiness: unknown }).stickiness === null,
      ),
    ).toBe(true);
    expect(exchanges.some((x) => x.method === 'POST')).toBe(true);
    expect(exchanges.some((x) => x.path.endsWith('/pendingChanges'))).toBe(true);
    expect(exchanges.some((x) => x.query.has('status'))).toBe(true);
    expect(kinds.size).toBeGreaterThan(6);
  });

  it('made only documented calls, with documented queries, bodies and answers', () => {
    // /auth/time belongs to the /auth API, not to /ipLoadbalancing: checked by the client tests.
    const problems = exchanges.filter((x) => x.path !== '/auth/time').flatMap(checkExchange);
    expect(problems).toEqual([]);
  });

  it('would notice a body the API does not take', () => {
    expect(
      checkExchange({
        method: 'PUT',
        path: '/ipLoadbalancing/lb/tcp/farm/3',
        query: new URLSearchParams(),
        requestBody: { stickiness: 'cookie', farmId: 3 },
        status: 200,
        responseBody: undefined,
      }),
    ).toEqual(
      expect.arrayContaining([
        expect.stringContaining('request must NOT have additional properties'),
        expect.stringContaining('request/stickiness must be equal to one of the allowed values'),
      ]),
    );
  });
});
