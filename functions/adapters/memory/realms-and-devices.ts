import { indexedMetadataOf } from "../../core/device-query.ts";
import {
  DeviceAlreadyConfirmedError,
  DeviceNotFoundError,
  RealmExistsError,
  RealmNotFoundError,
  RegistrationLimitReachedError,
} from "../../core/errors.ts";
import type { CredentialEvent, Realm } from "../../core/model.ts";
import type {
  BeginIssuanceInput,
  BeginIssuanceResult,
  DeviceRegistry,
  EndIssuanceInput,
  IssuanceSlot,
  RealmStore,
  RegisterDeviceInput,
} from "../../core/ports/device-store.ts";
import { copy, type DeviceRow, deviceKey, deviceOut, type MemoryTables, type Mutable } from "./tables.ts";

type RealmsAndDevices = RealmStore & DeviceRegistry & IssuanceSlot;

/** Realms, device registration and the issuance slot, with the DynamoDB adapter's conditions. */
export function realmsAndDevices(t: MemoryTables): RealmsAndDevices {
  const liveRealm = (name: string) => {
    const row = t.realms.get(name);
    return row && row.purgeAt === undefined ? row : undefined;
  };

  function updateExisting(
    realm: string,
    deviceId: string,
    change: (row: DeviceRow) => void,
    event: CredentialEvent,
  ): void {
    const row = t.device(realm, deviceId);
    if (!row) throw new DeviceNotFoundError();
    change(row);
    t.event(event);
  }

  return {
    async getRealm(name) {
      const row = liveRealm(name);
      return row ? copy(row.realm) : undefined;
    },

    async listRealms() {
      return [...t.realms.values()]
        .filter((row) => row.purgeAt === undefined)
        .sort((a, b) => (a.realm.name < b.realm.name ? -1 : 1))
        .map((row) => copy(row.realm));
    },

    async createRealm(realm) {
      // A deleted realm keeps its name until it is purged.
      if (t.realms.has(realm.name)) throw new RealmExistsError();
      t.realms.set(realm.name, { realm: copy(realm) as Mutable<Realm> });
    },

    async deleteRealm(name, purgeAt) {
      const row = liveRealm(name);
      if (!row) throw new RealmNotFoundError();
      row.purgeAt = purgeAt;
    },

    async removeDeletedRealm(name) {
      if (t.realms.get(name)?.purgeAt !== undefined) t.realms.delete(name);
    },

    async updateRealm(realm) {
      const row = liveRealm(realm.name);
      if (!row) throw new RealmNotFoundError();
      const r = row.realm;
      r.jwtPublicKeyPem = realm.jwtPublicKeyPem;
      r.certificateValiditySeconds = realm.certificateValiditySeconds;
      r.graceSeconds = realm.graceSeconds;
      r.issuanceBudgetPerHour = realm.issuanceBudgetPerHour;
      r.maxLiveCertificates = realm.maxLiveCertificates;
      r.brokerUrl = realm.brokerUrl || undefined;
      r.deviceLimit = realm.deviceLimit;
      if (r.indexedMetadataKeys.join("\n") !== realm.indexedMetadataKeys.join("\n")) {
        r.indexedMetadataKeys = [...realm.indexedMetadataKeys];
        // What the DynamoDB adapter's backfill does over the next sweeper runs, at once.
        for (const { device } of t.devices.values()) {
          const reported = device.metadata !== undefined && Object.keys(device.metadata).length > 0;
          if (device.realm === realm.name && (reported || device.indexedMetadata !== undefined)) {
            device.indexedMetadata = indexedMetadataOf(device.metadata, r.indexedMetadataKeys);
          }
        }
      }
      return copy(r);
    },

    async getRealmAndDevice(realm, deviceId) {
      const realmRow = liveRealm(realm);
      const deviceRow = t.device(realm, deviceId);
      return {
        ...(realmRow ? { realm: copy(realmRow.realm) } : {}),
        ...(deviceRow ? { device: deviceOut(deviceRow) } : {}),
      };
    },

    async registerDevice(input: RegisterDeviceInput) {
      const { realm, deviceId, secretHash, introspection, now } = input;
      const existing = t.device(realm.name, deviceId);
      if (existing) {
        // Only a device that never asked for credentials can be registered again (new secret).
        if (existing.device.firstCredentialsRequest !== undefined) {
          throw new DeviceAlreadyConfirmedError();
        }
        existing.device.secretHash = secretHash;
        existing.device.credentialsInhibited = false;
        if (introspection) existing.device.introspection = copy(introspection);
        t.event({ realm: realm.name, deviceId, type: "registered", at: now, reason: "renewed" });
        return "renewed";
      }
      const realmRow = liveRealm(realm.name);
      // The limit is the caller's view of the realm, as in the DynamoDB adapter's condition.
      const limited = realm.deviceLimit !== undefined;
      if (!realmRow || (limited && realmRow.realm.deviceCount >= (realm.deviceLimit ?? 0))) {
        throw limited ? new RegistrationLimitReachedError() : new RealmNotFoundError();
      }
      realmRow.realm.deviceCount += 1;
      t.devices.set(deviceKey(realm.name, deviceId), {
        device: {
          realm: realm.name,
          deviceId,
          secretHash,
          firstRegistration: now,
          firstCredentialsRequest: undefined,
          lastCredentialsRequestIp: undefined,
          credentialsInhibited: false,
          introspection: copy(introspection ?? {}),
          currentSerial: undefined,
          issuance: { lease: undefined, tat: undefined, admitAt: undefined, lastKey: undefined },
        },
      });
      t.event({ realm: realm.name, deviceId, type: "registered", at: now });
      return "created";
    },

    async discardNewDevice(realm, deviceId, secretHash) {
      const row = t.device(realm, deviceId);
      // Someone registered it again meanwhile (new secret), or it paired: it is theirs now.
      if (!row || row.device.secretHash !== secretHash || row.device.firstCredentialsRequest !== undefined) {
        return;
      }
      const realmRow = t.realms.get(realm);
      if (!realmRow) throw new Error("the realm of a device being discarded is gone");
      t.devices.delete(deviceKey(realm, deviceId));
      realmRow.realm.deviceCount -= 1;
    },

    async unregisterDevice(realm, deviceId, now) {
      updateExisting(
        realm,
        deviceId,
        (row) => {
          row.device.secretHash = undefined;
          row.device.firstCredentialsRequest = undefined;
          row.device.currentSerial = undefined;
          row.device.currentNotAfter = undefined;
        },
        { realm, deviceId, type: "unregistered", at: now },
      );
    },

    async setSecretHash(realm, deviceId, secretHash, now) {
      updateExisting(
        realm,
        deviceId,
        (row) => {
          row.device.secretHash = secretHash;
        },
        { realm, deviceId, type: "secret_rotated", at: now },
      );
    },

    async setCredentialsInhibited(realm, deviceId, inhibited, now) {
      updateExisting(
        realm,
        deviceId,
        (row) => {
          row.device.credentialsInhibited = inhibited;
        },
        { realm, deviceId, type: inhibited ? "inhibited" : "uninhibited", at: now },
      );
    },

    async beginIssuance(input: BeginIssuanceInput): Promise<BeginIssuanceResult> {
      const row = t.device(input.realm, input.deviceId);
      if (!row) return { acquired: false, device: undefined };
      const before = deviceOut(row);
      const { issuance } = row.device;
      const admitted =
        row.device.secretHash === input.secretHash &&
        !row.device.credentialsInhibited &&
        (issuance.lease === undefined || issuance.lease <= input.now) &&
        (issuance.admitAt === undefined || issuance.admitAt <= input.now || issuance.lastKey === input.key);
      if (admitted) {
        issuance.lease = input.leaseUntil;
        issuance.turnAt = undefined;
        issuance.turnUntil = undefined;
      }
      return { acquired: admitted, device: before };
    },

    async endIssuance(input: EndIssuanceInput) {
      const row = t.device(input.realm, input.deviceId);
      // Only our own slot: one that expired and was taken by another request is theirs.
      if (!row || row.device.issuance.lease !== input.lease) return;
      const { issuance } = row.device;
      if (input.charge) {
        issuance.tat = input.charge.tat;
        issuance.admitAt = input.charge.admitAt;
        issuance.lastKey = input.charge.key;
      }
      if (input.turn) {
        issuance.turnAt = input.turn.at;
        issuance.turnUntil = input.turn.until;
      }
      issuance.lease = undefined;
    },
  };
}
