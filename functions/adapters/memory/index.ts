import { type BudgetRates, ShardedBudget, UNLIMITED_BUDGET } from "../../core/aws-budget.ts";
import type { PairingDeps } from "../../core/pairing-deps.ts";
import type { DeviceStore } from "../../core/ports/device-store.ts";
import type { Clock } from "../../core/ports/system.ts";
import { LazySecretHasher } from "../../core/secrets.ts";
import { MemoryBudgetCells } from "./budget-cells.ts";
import { fleet } from "./fleet.ts";
import { fleetStats } from "./fleet-stats.ts";
import { ledger } from "./ledger.ts";
import { realmsAndDevices } from "./realms-and-devices.ts";
import { MemoryTables } from "./tables.ts";
import {
  Faults,
  MemoryCertificateAuthority,
  MemoryConnectionControl,
  MemoryTransportRegistry,
} from "./world.ts";

export { MemoryBudgetCells } from "./budget-cells.ts";
export { MemoryTables } from "./tables.ts";
export { VirtualSweepSchedule } from "./virtual-sweep-schedule.ts";
export {
  Faults,
  MemoryCertificateAuthority,
  MemoryConnectionControl,
  MemoryTransportRegistry,
} from "./world.ts";

/**
 * The DeviceStore port in memory: the same conditions, transactions and orderings as the DynamoDB adapter
 * (the contract suite in test/support/store-contract.ts runs both), for unit tests, `npm run bench` and the
 * fleet simulator. Not for production: nothing persists.
 */
export function createMemoryStore(tables: MemoryTables = new MemoryTables()): DeviceStore {
  return {
    ...realmsAndDevices(tables),
    ...ledger(tables),
    ...fleet(tables),
    ...fleetStats(tables),
  } satisfies DeviceStore;
}

/** A clock that moves only when told to: the in-memory world's time. */
export class ManualClock implements Clock {
  #now: number;
  constructor(start: Date | string = "2026-01-01T00:00:00.000Z") {
    this.#now = new Date(start).getTime();
  }
  now(): Date {
    return new Date(this.#now);
  }
  advance(ms: number): void {
    this.#now += ms;
  }
  set(at: Date | string): void {
    this.#now = new Date(at).getTime();
  }
}

export interface MemoryWorld {
  readonly deps: PairingDeps;
  readonly tables: MemoryTables;
  readonly store: DeviceStore;
  readonly ca: MemoryCertificateAuthority;
  readonly transport: MemoryTransportRegistry;
  readonly connections: MemoryConnectionControl;
  readonly faults: Faults;
  readonly clock: ManualClock;
  readonly budgetCells: MemoryBudgetCells;
}

/** Every port of the pairing use-cases in memory, wired as the container wires the AWS adapters. */
/** Unlimited unless `budget` gives the lanes' rates. */
export function createMemoryWorld(options: { clock?: ManualClock; budget?: BudgetRates } = {}): MemoryWorld {
  const clock = options.clock ?? new ManualClock();
  const faults = new Faults();
  const tables = new MemoryTables();
  const store = createMemoryStore(tables);
  const ca = new MemoryCertificateAuthority(clock, faults);
  const transport = new MemoryTransportRegistry(faults);
  const connections = new MemoryConnectionControl(faults);
  const budgetCells = new MemoryBudgetCells();
  const deps: PairingDeps = {
    store,
    ca,
    transport,
    connections,
    budget: new ShardedBudget(budgetCells, options.budget ?? UNLIMITED_BUDGET),
    clock,
    hasher: new LazySecretHasher(async () => Buffer.alloc(32, 7)),
    settings: {
      defaultBrokerUrl: "mqtts://broker.memory:8883/",
      serviceVersion: "memory",
      defaultCertificateValiditySeconds: 7 * 86_400,
    },
  };
  return { deps, tables, store, ca, transport, connections, faults, clock, budgetCells };
}
