/** What every PlanRegistry must do: run against the DynamoDB adapter (on dynalite) and the in-memory fake. */
import { planDigest, SAVED_PLAN_FORMAT, type SavedPlanBody } from '../../lib/domain/saved-plan';
import type { PlanRegistry } from '../../lib/ports/plan-registry';

let n = 0;
/** A plan's body, made unique per call (its policy source), and its digest. */
export const aPlanBody = (changes = 1): { body: SavedPlanBody; digest: string } => {
  const body: SavedPlanBody = {
    format: SAVED_PLAN_FORMAT,
    createdAt: '2026-12-07T10:00:00.000Z',
    policy: { source: `policy-${Date.now()}-${++n}.yaml`, sha256: 'c'.repeat(64) },
    services: ['lb-a'],
    farms: Array.from({ length: Math.max(changes, 1) }, (_, i) => ({
      service: 'lb-a',
      type: 'http' as const,
      farmId: i + 1,
      zone: 'gra',
      displayName: null,
      stickiness: 'none' as const,
    })),
    pending: [],
    changes: Array.from({ length: changes }, (_, i) => ({
      service: 'lb-a',
      type: 'http' as const,
      farmId: i + 1,
      from: 'none' as const,
      to: 'cookie' as const,
      rule: 'web keeps sessions',
      ruleIndex: 0,
    })),
  };
  return { body, digest: planDigest(body) };
};

/** A time `ms` from now, to the second (the registry keeps expiries to the second). */
const inWholeSeconds = (ms: number) => new Date(Math.floor((Date.now() + ms) / 1000) * 1000);

export const planRegistryContract = (make: () => PlanRegistry | Promise<PlanRegistry>) => {
  let registry: PlanRegistry;
  beforeAll(async () => {
    registry = await make();
  });

  it('knows nothing of a digest never registered', async () => {
    expect(await registry.read(aPlanBody().digest)).toBeUndefined();
  });

  it('keeps a plan under its digest with its expiry, and hands back the body as given', async () => {
    const { body, digest } = aPlanBody(3);
    const expiresAt = inWholeSeconds(3_600_000);
    expect(await registry.register(body, digest, expiresAt)).toBe('registered');
    const kept = await registry.read(digest);
    expect(kept?.expiresAt).toEqual(expiresAt);
    expect(JSON.parse(kept!.body)).toEqual(body);
    expect(planDigest(JSON.parse(kept!.body))).toBe(digest);
  });

  it('writes a digest only once while it lives: the second registration changes nothing', async () => {
    const { body, digest } = aPlanBody();
    const first = inWholeSeconds(3_600_000);
    await registry.register(body, digest, first);
    expect(await registry.register(body, digest, inWholeSeconds(7_200_000))).toBe('already');
    expect((await registry.read(digest))?.expiresAt).toEqual(first);
  });

  it('hands back an expired plan with its expiry (the reader decides), and registers it afresh', async () => {
    const { body, digest } = aPlanBody();
    const past = inWholeSeconds(-60_000);
    expect(await registry.register(body, digest, past)).toBe('registered');
    expect((await registry.read(digest))?.expiresAt).toEqual(past);
    const later = inWholeSeconds(3_600_000);
    expect(await registry.register(body, digest, later)).toBe('registered');
    expect((await registry.read(digest))?.expiresAt).toEqual(later);
  });
};
