/** The in-memory fakes pass the same contracts as the adapters they stand for. */
import {
  InMemoryFarmLedger,
  InMemoryIdempotencyStore,
  InMemoryPlanRegistry,
  InMemoryUnappliedZones,
  InMemoryZoneSlots,
} from '../helpers/fakes';
import { farmLedgerContract } from './farm-ledger.contract';
import { idempotencyStoreContract } from './idempotency-store.contract';
import { planRegistryContract } from './plan-registry.contract';
import { unappliedZonesContract } from './unapplied-zones.contract';
import { zoneSlotsContract } from './zone-slots.contract';

describe('InMemoryIdempotencyStore, the IdempotencyStore contract', () => {
  idempotencyStoreContract(() => new InMemoryIdempotencyStore());
});

describe('InMemoryFarmLedger, the FarmLedger contract', () => {
  farmLedgerContract(() => new InMemoryFarmLedger());
});

describe('InMemoryUnappliedZones, the UnappliedZones contract', () => {
  unappliedZonesContract(() => new InMemoryUnappliedZones());
});

describe('InMemoryPlanRegistry, the PlanRegistry contract', () => {
  planRegistryContract(() => new InMemoryPlanRegistry());
});

describe('InMemoryZoneSlots, the ZoneSlots contract', () => {
  zoneSlotsContract(() => new InMemoryZoneSlots());
});
