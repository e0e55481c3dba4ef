/** The simulator's fleet file: services, their zones and farms (YAML, validated, errors with lines). */
import * as z from 'zod/mini';
import { FarmTypeSchema } from '../domain/stickiness';
import { parseYamlWith } from '../domain/yaml-document';

export const FleetFarmSchema = z
  .strictObject({
    id: z.int().check(z.positive()),
    type: FarmTypeSchema,
    zone: z.string().check(z.minLength(1)),
    displayName: z.optional(z.nullable(z.string())),
    stickiness: z.optional(z.nullable(z.enum(['cookie', 'sourceIp']))),
    balance: z.optional(z.nullable(z.enum(['first', 'leastconn', 'roundrobin', 'source', 'uri']))),
    port: z.optional(z.nullable(z.int())),
  })
  .check(
    z.superRefine((farm, ctx) => {
      if (farm.type === 'udp' && farm.stickiness != null)
        ctx.addIssue({ code: 'custom', path: ['stickiness'], message: 'UDP farms have no stickiness' });
      if (farm.type === 'tcp' && farm.stickiness === 'cookie')
        ctx.addIssue({
          code: 'custom',
          path: ['stickiness'],
          message: 'TCP farms cannot use cookie stickiness',
        });
      if (farm.type !== 'http' && farm.balance === 'uri')
        ctx.addIssue({ code: 'custom', path: ['balance'], message: 'uri balance is for HTTP farms only' });
    }),
  );
export type FleetFarm = z.infer<typeof FleetFarmSchema>;

/** A time of day on a 5-minute boundary, HH:MM (00:00 … 23:55). */
const SLOT_OF_DAY = /^([01]\d|2[0-3]):[0-5][05]$/;

/**
 * A service's traffic in the simulator (traffic-curve.ts): where its quietest 5 minutes of the day
 * fall (UTC), from a whole hour (`quietestHourUtc`) or to the slot (`quietestAtUtc: "HH:MM"`, one
 * or the other), and its peak requests per second; `none`: OVH offers it no metrics
 * (metricsToken answers 404).
 */
export const FleetTrafficSchema = z.union([
  z.literal('none'),
  z
    .strictObject({
      quietestHourUtc: z.optional(z.int().check(z.minimum(0), z.maximum(23))),
      quietestAtUtc: z.optional(
        z.string().check(
          z.regex(SLOT_OF_DAY, {
            message:
              'the start of a 5-minute slot of the day in UTC: "HH:MM", minutes a multiple of 5 (00:00 … 23:55), such as "03:35"',
          }),
        ),
      ),
      peakRequestsPerSecond: z.optional(z.number().check(z.positive(), z.maximum(1_000_000))),
    })
    .check(
      z.superRefine((traffic, ctx) => {
        if (traffic.quietestHourUtc !== undefined && traffic.quietestAtUtc !== undefined)
          ctx.addIssue({
            code: 'custom',
            path: ['quietestAtUtc'],
            message: `set quietestHourUtc or quietestAtUtc, not both (quietestHourUtc: ${traffic.quietestHourUtc} is quietestAtUtc: "${String(traffic.quietestHourUtc).padStart(2, '0')}:00")`,
          });
      }),
    ),
]);
export type FleetTraffic = z.infer<typeof FleetTrafficSchema>;

export const FleetServiceSchema = z
  .strictObject({
    name: z.string().check(z.minLength(1)),
    displayName: z.optional(z.string()),
    /** `expired`: OVH answers its sub-resources with HTTP 460, as for a service whose subscription lapsed. */
    state: z._default(z.enum(['ok', 'expired']), 'ok'),
    zones: z.array(z.string().check(z.minLength(1))).check(z.minLength(1)),
    farms: z._default(z.array(FleetFarmSchema), []),
    /** Default: quietest in the 5 minutes from 03:00 UTC, 200 requests per second at the peak. */
    traffic: z.optional(FleetTrafficSchema),
  })
  .check(
    z.superRefine((service, ctx) => {
      const seen = new Set<string>();
      service.farms.forEach((farm, i) => {
        const key = `${farm.type}/${farm.id}`;
        if (seen.has(key))
          ctx.addIssue({ code: 'custom', path: ['farms', i, 'id'], message: `duplicate farm ${key}` });
        seen.add(key);
        if (farm.zone !== 'all' && !service.zones.includes(farm.zone))
          ctx.addIssue({
            code: 'custom',
            path: ['farms', i, 'zone'],
            message: `zone '${farm.zone}' is not one of the service's zones (${service.zones.join(', ')}) nor 'all'`,
          });
      });
    }),
  );
export type FleetService = z.input<typeof FleetServiceSchema>;

export const FleetSchema = z.strictObject({
  services: z.array(FleetServiceSchema).check(z.minLength(1)),
});
/** A fleet as written (defaults optional); parseFleet returns one with the defaults filled in. */
export type Fleet = z.input<typeof FleetSchema>;

export const parseFleet = (text: string, source = 'fleet'): Fleet => parseYamlWith(FleetSchema, text, source);

/** The policy a generated fleet is measured against: HTTP farms want cookie, TCP farms sourceIp. */
export const GENERATED_FLEET_POLICY = `version: 1
rules:
  - name: http keeps sessions
    match: { type: http }
    stickiness: cookie
  - name: tcp by source
    match: { type: tcp }
    stickiness: sourceIp
`;

/**
 * A synthetic fleet for benchmarks and load tests, deterministic for a given shape: farms spread
 * round-robin over the zones, one in four TCP, and every `driftEvery`-th farm of a service away
 * from GENERATED_FLEET_POLICY (so about 1/driftEvery of the fleet drifts).
 */
export const generateFleet = (shape: {
  services: number;
  zonesPerService: number;
  farmsPerService: number;
  driftEvery?: number;
}): Fleet => {
  const zoneNames = ['gra', 'sbg', 'rbx', 'bhs', 'waw', 'lim', 'eri', 'de1'];
  const driftEvery = shape.driftEvery ?? 3;
  return {
    services: Array.from({ length: shape.services }, (_, s) => {
      const zones = zoneNames.slice(0, shape.zonesPerService);
      return {
        name: `loadbalancer-${(0x1000 + s).toString(16)}`,
        zones,
        farms: Array.from({ length: shape.farmsPerService }, (_, f): FleetFarm => {
          const type = f % 4 === 3 ? 'tcp' : 'http';
          const drifted = f % driftEvery === 0;
          return {
            id: 1000 * (s + 1) + f,
            type,
            // Spread drifted and compliant farms alike over every zone.
            zone: zones[Math.floor(f / driftEvery) % zones.length]!,
            displayName: `${type === 'http' ? 'web' : 'db'}-${s}-${f}`,
            stickiness:
              type === 'http'
                ? drifted
                  ? f % 2
                    ? 'sourceIp'
                    : null
                  : 'cookie'
                : drifted
                  ? null
                  : 'sourceIp',
            balance: 'roundrobin',
            port: type === 'http' ? 80 : 5432,
          };
        }),
      };
    }),
  };
};
