/**
 * Property-based tests (fast-check): the parsers never crash on arbitrary input (they answer or
 * refuse in their own words), and the planner keeps its promises for any fleet and any policy.
 * A failure prints the smallest input that breaks the property, and its seed to replay it.
 */
import { PassThrough } from 'node:stream';
import fc from 'fast-check';
import { parseChangeRequestBody } from '../../lib/adapters/sqs/change-request-record';
import { type CliIo, runCli } from '../../lib/cli/main';
import { SticklerError } from '../../lib/domain/errors';
import type { Farm } from '../../lib/domain/farm';
import { planFromPolicy, planFromRequests } from '../../lib/domain/plan';
import type { Policy } from '../../lib/domain/policy';
import { parsePolicy } from '../../lib/domain/policy-file';
import { checkTarget, type FarmType, type Stickiness, toWire } from '../../lib/domain/stickiness';
import { batchByZone } from '../../lib/domain/zones';

const RUNS = Number(process.env.STICKLER_PROPERTY_RUNS) || 300;
const tally: string[] = [];
afterAll(() => {
  if (process.env.STICKLER_RELIABILITY_REPORT)
    process.stdout.write(
      `properties: ${tally.length} held, ${RUNS} generated inputs each\n${tally.map((t) => `  ${t}`).join('\n')}\n`,
    );
});
const holds = (name: string, property: fc.IProperty<unknown> | fc.IAsyncProperty<unknown>) =>
  it(name, async () => {
    await fc.assert(property as fc.IAsyncProperty<unknown>, { numRuns: RUNS });
    tally.push(name);
  });

const word = fc.constantFrom('cookie', 'sourceIp', 'none');
const farmType = fc.constantFrom<FarmType>('http', 'tcp', 'udp');
const stickiness = fc.constantFrom<Stickiness>('cookie', 'sourceIp', null);
const zone = fc.constantFrom('gra', 'sbg', 'rbx', 'all');
const name = fc.constantFrom('web-1', 'web-2', 'static-a', 'redis-x', 'api-gateway', null, '');
const glob = fc.oneof(
  fc.constantFrom('*', 'web-*', 'lb-?', '[a-c]*', 'static-[0-9]', '**', '[!x]*'),
  fc.string({ maxLength: 8 }),
);

const farms = fc
  .array(
    fc.record({
      service: fc.constantFrom('lb-a', 'lb-b', 'lb-c'),
      type: farmType,
      farmId: fc.integer({ min: 1, max: 40 }),
      zone,
      displayName: name,
      stickiness,
    }),
    { maxLength: 40 },
  )
  .map((list) => {
    // One farm per (service, type, id), as OVH has; UDP farms store no stickiness.
    const seen = new Map<string, Farm>();
    for (const f of list)
      seen.set(`${f.service}/${f.type}/${f.farmId}`, {
        ...f,
        stickiness: f.type === 'udp' ? null : f.stickiness,
      });
    return [...seen.values()];
  });

const policyDoc = fc.record({
  version: fc.constant(1),
  rules: fc.array(
    fc.record(
      {
        name: fc.string({ maxLength: 12 }),
        match: fc.record(
          { service: glob, type: farmType, zone, displayName: glob, farmId: fc.integer({ min: 1, max: 40 }) },
          { requiredKeys: [] },
        ),
        stickiness: word,
      },
      { requiredKeys: ['match', 'stickiness'] },
    ),
    { maxLength: 6 },
  ),
});

describe('parsers on arbitrary input', () => {
  holds(
    'the policy parser answers a policy or a policy error, for any text',
    fc.property(
      fc.oneof(
        fc.string({ maxLength: 400 }),
        fc.json(),
        policyDoc.map((d) => JSON.stringify(d)),
      ),
      (text) => {
        try {
          parsePolicy(text, 'fuzz.yaml');
        } catch (error) {
          if (!(error instanceof SticklerError)) throw error;
          expect(error.message).toContain('fuzz.yaml');
        }
      },
    ),
  );

  holds(
    'the policy parser accepts a well-formed policy, or names what it cannot take',
    fc.property(policyDoc, (doc) => {
      try {
        const policy = parsePolicy(JSON.stringify(doc), 'p.yaml');
        expect(policy.rules).toHaveLength(doc.rules.length);
      } catch (error) {
        // What a document of this shape can get wrong, each said in the policy's own words.
        expect(String((error as Error).message)).toMatch(
          /invalid pattern|must not be empty|this rule can never apply|a policy needs at least one rule/,
        );
      }
    }),
  );

  holds(
    'a change-request record is read as a request or refused with a bounded key, whatever its body',
    fc.property(
      fc.string({ maxLength: 40 }),
      fc.oneof(
        fc.string({ maxLength: 300 }),
        fc.json(),
        fc
          .record({
            version: fc.constant('0'),
            id: fc.string({ maxLength: 200 }),
            'detail-type': fc.constantFrom('Stickiness Change Requested', 'Other', ''),
            source: fc.string({ maxLength: 300 }),
            account: fc.string({ maxLength: 20 }),
            time: fc.constantFrom('2026-11-25T10:00:00Z', 'yesterday'),
            region: fc.constant('eu-west-3'),
            resources: fc.constant([]),
            detail: fc.oneof(
              fc.json(),
              fc.record(
                {
                  requestId: fc.string({ maxLength: 200 }),
                  service: fc.string(),
                  farmType,
                  farmId: fc.integer(),
                  stickiness: fc.string(),
                },
                { requiredKeys: [] },
              ),
            ),
          })
          .map((e) => JSON.stringify(e)),
      ),
      (recordId, body) => {
        const parsed = parseChangeRequestBody(recordId, body);
        expect(parsed.key.length).toBeLessThanOrEqual(256);
        if (!parsed.ok) expect(parsed.message.length).toBeGreaterThan(0);
      },
    ),
  );

  holds(
    'the CLI answers any arguments with an exit code and a sentence, never a stack trace or a call',
    fc.asyncProperty(
      fc.array(
        fc.oneof(
          fc.constantFrom(
            'show',
            'plan',
            'apply',
            'set',
            'refresh',
            'compliance',
            'help',
            '--json',
            '--yes',
            '--policy',
            '--service',
            '--timeout',
            '--concurrency',
            '--poll-interval',
            '--help',
            'http/1',
            'tcp/0',
            'cookie',
            '..',
            '-5',
            '1e9',
            '2.5',
            'lb-a',
          ),
          fc.string({ maxLength: 12 }),
        ),
        { maxLength: 7 },
      ),
      async (argv) => {
        if (argv[0] === 'simulate' || argv[0] === 'demo') return; // they serve until stopped
        const out: string[] = [];
        const stdin = new PassThrough();
        stdin.end('');
        const io: CliIo = {
          stdout: { write: (t: string) => out.push(t) },
          stderr: { write: (t: string) => out.push(t) },
          stdin,
          // No OVH endpoint: nothing can be called.
          env: {},
          interactive: false,
          cwd: '/nonexistent',
        };
        const code = await runCli(argv, io);
        expect([0, 1, 2]).toContain(code);
        expect(out.join('')).not.toMatch(/unexpected error|\n\s+at .+\(/);
      },
    ),
  );
});

describe('the planner, for any fleet and any policy', () => {
  holds(
    'never plans a target the farm type cannot take, nor a write for a farm that already complies',
    fc.property(farms, policyDoc, (fleet, doc) => {
      let policy: Policy;
      try {
        policy = parsePolicy(JSON.stringify(doc), 'p.yaml');
      } catch {
        return; // a pattern that does not compile: refused before planning
      }
      const plan = planFromPolicy(fleet, policy);
      for (const c of plan.changes) {
        expect(checkTarget(c.farm.type, c.to)).toEqual({ ok: true });
        expect(c.farm.stickiness).not.toBe(c.to);
        expect(c.farm.type).not.toBe('udp');
      }
      // Every farm is in at most one of changes, unchanged, invalid.
      const keys = [
        ...plan.changes.map((c) => c.farm),
        ...plan.unchanged.map((u) => u.farm),
        ...plan.invalid.map((r) => r.ref),
      ].map((f) => `${f.service}/${'type' in f ? f.type : ''}/${f.farmId}`);
      expect(new Set(keys).size).toBe(keys.length);
    }),
  );

  holds(
    'applies each change in exactly one refresh, one per (service, zone) touched, `all` covering its service',
    fc.property(farms, policyDoc, (fleet, doc) => {
      let policy: Policy;
      try {
        policy = parsePolicy(JSON.stringify(doc), 'p.yaml');
      } catch {
        return;
      }
      const { changes } = planFromPolicy(fleet, policy);
      const batches = batchByZone(changes);
      const zones = batches.map((b) => `${b.service}/${b.zone}`);
      expect(new Set(zones).size).toBe(zones.length);
      expect(batches.flatMap((b) => b.changes)).toHaveLength(changes.length);
      for (const b of batches) {
        for (const c of b.changes) {
          expect(c.farm.service).toBe(b.service);
          if (b.zone !== 'all') expect(c.farm.zone).toBe(b.zone);
        }
        if (b.zone === 'all') expect(batches.filter((x) => x.service === b.service)).toHaveLength(1);
      }
      // The fewest refreshes: one per distinct zone of each service (one in all, when any farm is in all).
      const expected = new Set(
        changes.map((c) =>
          changes.some((d) => d.farm.service === c.farm.service && d.farm.zone === 'all')
            ? `${c.farm.service}/all`
            : `${c.farm.service}/${c.farm.zone}`,
        ),
      );
      expect(new Set(zones)).toEqual(expected);
    }),
  );

  holds(
    'explicit requests: an invalid target is refused even when the farm was not read, and nothing compliant is written',
    fc.property(
      farms,
      fc.array(
        fc.record({
          service: fc.constantFrom('lb-a', 'lb-b'),
          farmType,
          farmId: fc.integer({ min: 1, max: 40 }),
          stickiness: word,
        }),
        { maxLength: 20 },
      ),
      (fleet, asks) => {
        const requests = asks.map((a, i) => ({
          ...a,
          requestId: `r-${i}`,
          actor: { kind: 'system' as const, id: 'x' },
          requestedAt: '2026-11-25T10:00:00Z',
        }));
        const reads = new Map(
          fleet.map((f) => [`${f.service}/${f.type}/${f.farmId}`, { found: true as const, farm: f }]),
        );
        const plan = planFromRequests(requests, reads);
        for (const c of plan.changes) {
          expect(checkTarget(c.farm.type, c.to)).toEqual({ ok: true });
          expect(c.farm.stickiness).not.toBe(c.to);
        }
        for (const r of requests)
          if (!checkTarget(r.farmType as FarmType, toWire(r.stickiness as 'cookie')).ok)
            expect(
              plan.invalid.find((x) => x.origin.kind === 'request' && x.origin.requestId === r.requestId)
                ?.code,
            ).toBe('invalid-target');
        expect(plan.changes.length + plan.unchanged.length + plan.invalid.length).toBe(requests.length);
      },
    ),
  );
});
