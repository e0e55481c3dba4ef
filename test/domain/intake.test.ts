import { buildChangeRequest, type RequestDraft } from '../../lib/domain/intake';
import { hasUnsafeCharacters, plainText } from '../../lib/domain/text';

const NOW = new Date('2026-12-07T12:00:00Z');
const draft = (over: Partial<RequestDraft> = {}): RequestDraft => ({
  requestId: 'req-1',
  target: { service: 'loadbalancer-aaa', farmType: 'http', farmId: 101, stickiness: 'cookie' },
  actor: { kind: 'ticket', id: 'jira:alice', name: 'Alice' },
  ticket: { key: 'OPS-42', system: 'jira' },
  reason: 'sessions bounce',
  requestedAt: NOW.toISOString(),
  ...over,
});

describe('plainText', () => {
  it('replaces control and bidi characters by a space, one per run, and trims', () => {
    expect(plainText('a\u0000b\u001b[2Jc\r\nd\u202eexe.txt\u2066', 100)).toBe('a b [2Jc d exe.txt');
    expect(hasUnsafeCharacters('line\u2028two')).toBe(true);
    expect(hasUnsafeCharacters('café <!channel> *bold*')).toBe(false);
  });

  it('bounds the length in characters, never cutting a pair in half', () => {
    expect(plainText('😀'.repeat(10), 4)).toBe('😀😀😀…');
    expect(plainText('short', 10)).toBe('short');
  });
});

describe('buildChangeRequest (the one constructor of a change request)', () => {
  it('builds the request every door publishes, with its text cleaned', () => {
    const result = buildChangeRequest(
      draft({
        reason: 'why\u0000 not\u202e',
        actor: { kind: 'ticket', id: 'jira:a\nb', name: ' Eve\u001b ' },
      }),
      NOW,
    );
    expect(result).toEqual({
      ok: true,
      request: {
        requestId: 'req-1',
        service: 'loadbalancer-aaa',
        farmType: 'http',
        farmId: 101,
        stickiness: 'cookie',
        actor: { kind: 'ticket', id: 'jira:a b', name: 'Eve' },
        ticket: 'OPS-42',
        reason: 'why  not',
        requestedAt: NOW.toISOString(),
      },
    });
  });

  it("carries a saved plan's digest, and refuses anything else there naming the field", () => {
    const digest = '0f'.repeat(32);
    expect(buildChangeRequest(draft({ plan: digest, ifStores: 'none' }), NOW)).toMatchObject({
      ok: true,
      request: { plan: digest, ifStores: 'none' },
    });
    for (const plan of ['0F'.repeat(32), 'ab', `${digest}0`])
      expect(buildChangeRequest(draft({ plan }), NOW)).toEqual({
        ok: false,
        kind: 'invalid',
        issues: [{ path: 'plan', message: expect.stringContaining('64 lower-case hex digits') }],
      });
  });

  it("refuses a ticket key that is not one of its system's, whatever else is right", () => {
    for (const [key, system] of [
      ['../../rest/api/3/myself', 'jira'],
      ['ops-42', 'jira'],
      ['OPS-42', 'servicenow'],
      ['CHG0030042/..', 'servicenow'],
    ] as const) {
      const result = buildChangeRequest(draft({ ticket: { key, system } }), NOW);
      expect(result).toMatchObject({ ok: false, kind: 'invalid', issues: [{ path: 'ticket' }] });
    }
    expect(buildChangeRequest(draft({ ticket: { key: 'CHG0030042', system: 'servicenow' } }), NOW).ok).toBe(
      true,
    );
    expect(buildChangeRequest(draft({ ticket: { key: 'OPS/../x' } }), NOW).ok).toBe(false);
    expect(buildChangeRequest(draft({ ticket: { key: 'INC#42:b' } }), NOW).ok).toBe(true);
  });

  it('says every wrong field in words: missing, not finite, not allowed', () => {
    const result = buildChangeRequest(
      draft({
        target: {
          service: undefined,
          farmType: 'http',
          farmId: Number.POSITIVE_INFINITY,
          stickiness: 'sticky',
        },
      }),
      NOW,
    );
    expect(result.ok).toBe(false);
    const issues = (result as { issues: { path: string; message: string }[] }).issues;
    expect(issues).toEqual([
      { path: 'service', message: 'missing (expected string)' },
      { path: 'farmId', message: 'expected a finite number, got Infinity' },
      { path: 'stickiness', message: 'expected "cookie" | "sourceIp" | "none", got "sticky"' },
    ]);
  });

  it('refuses as impossible a target the farm type cannot take, and says so', () => {
    const tcp = buildChangeRequest(
      draft({ target: { service: 'loadbalancer-aaa', farmType: 'tcp', farmId: 3, stickiness: 'cookie' } }),
      NOW,
    );
    expect(tcp).toEqual({
      ok: false,
      kind: 'impossible',
      issues: [
        {
          path: 'stickiness',
          message:
            "loadbalancer-aaa tcp/3: stickiness 'cookie' is not allowed on a TCP farm (allowed: sourceIp, none)",
        },
      ],
    });
    const udp = buildChangeRequest(
      draft({ target: { service: 'loadbalancer-aaa', farmType: 'udp', farmId: 3, stickiness: 'none' } }),
      NOW,
    );
    expect(udp).toMatchObject({ ok: false, kind: 'impossible' });
  });

  it('refuses a window that has closed, or that opens after the acceptance horizon', () => {
    expect(buildChangeRequest(draft({ window: { notAfter: '2026-12-07T11:59:59Z' } }), NOW)).toMatchObject({
      ok: false,
      kind: 'impossible',
      issues: [{ path: 'window.notAfter' }],
    });
    expect(buildChangeRequest(draft({ window: { notBefore: '2026-12-30T00:00:00Z' } }), NOW)).toMatchObject({
      ok: false,
      kind: 'impossible',
      issues: [{ path: 'window.notBefore', message: expect.stringContaining('more than 20 days') }],
    });
    expect(
      buildChangeRequest(
        draft({ window: { notBefore: '2026-12-08T00:00:00Z', notAfter: '2026-12-07T23:00:00Z' } }),
        NOW,
      ),
    ).toMatchObject({ ok: false, kind: 'invalid', issues: [{ path: 'window.notAfter' }] });
    expect(buildChangeRequest(draft({ window: { notBefore: '2026-12-20T00:00:00Z' } }), NOW).ok).toBe(true);
    // An empty window is refused, never read as "now".
    expect(buildChangeRequest(draft({ window: {} }), NOW)).toMatchObject({ ok: false, kind: 'invalid' });
  });

  it('refuses a request id outside the alphabet and an unknown notify kind', () => {
    expect(buildChangeRequest(draft({ requestId: '../x' }), NOW)).toMatchObject({
      ok: false,
      issues: [{ path: 'requestId' }],
    });
  });
});
