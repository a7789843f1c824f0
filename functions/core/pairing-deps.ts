import type { CertificateAuthority } from "./ports/certificate-authority.ts";
import type { ConnectionControl } from "./ports/connection-control.ts";
import type { DeviceStore } from "./ports/device-store.ts";
import type { RequestBudget } from "./ports/request-budget.ts";
import type { Clock } from "./ports/system.ts";
import type { TransportRegistry } from "./ports/transport-registry.ts";
import type { CredentialsHasher } from "./secrets.ts";

/** What the pairing use-cases need, injected from one place (`functions/adapters/container.ts`). */
export interface PairingDeps {
  readonly store: DeviceStore;
  readonly ca: CertificateAuthority;
  readonly transport: TransportRegistry;
  readonly connections: ConnectionControl;
  /** The account's AWS request quotas, shared by every instance: issuance and the sweeper admit work against it. */
  readonly budget: RequestBudget;
  readonly clock: Clock;
  readonly hasher: CredentialsHasher;
  readonly settings: {
    /** Broker URL of realms that do not set their own: the account's `iot:Data-ATS` endpoint on AWS. */
    readonly defaultBrokerUrl: string;
    readonly serviceVersion: string;
    /** Validity of realms created without one. */
    readonly defaultCertificateValiditySeconds: number;
  };
}

/**
 * The ports a use-case names: `Store` is the store narrowed to the concepts it uses (RealmStore,
 * DeviceRegistry, …), `K` the other ports it needs.
 */
export type DepsOf<Store, K extends Exclude<keyof PairingDeps, "store"> = never> = Pick<PairingDeps, K> & {
  readonly store: Store;
};

/**
 * A request's validated input (its body's `data`). Calling it throws the request's own refusal (400, 413, 422)
 * if it has one, so a use-case answers a bad request at the point its API documents (after the caller's
 * credentials), and can still look at it before writing anything.
 */
export type RequestInput<T> = () => T;

/** Where a request came from, for the record and the logs. */
export interface RequestMeta {
  readonly sourceIp: string | undefined;
  readonly requestId: string;
}
