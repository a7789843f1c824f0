import type { CertificateRecord, IssuanceIntent } from "../../core/model.ts";
import type { CertificateLedger, SweepQueue } from "../../core/ports/device-store.ts";
import {
  ConcurrentIssuanceError,
  type DueItem,
  type RecordIssuanceInput,
  type RollbackIssuanceInput,
} from "../../core/ports/device-store.ts";
import {
  type CertificateRow,
  certificateOut,
  compare,
  copy,
  type IntentRow,
  intentOut,
  type MemoryTables,
  type Mutable,
  shardOf,
  sortedCertificates,
} from "./tables.ts";

type Ledger = CertificateLedger & SweepQueue;

/** The certificate ledger, issuance intents and the sweep index, with the DynamoDB adapter's conditions. */
export function ledger(t: MemoryTables): Ledger {
  const certificate = (realm: string, deviceId: string, serial: string) =>
    t.certificates.get(`${realm}#${deviceId}`)?.get(serial);

  /**
   * What is due in one shard, in the sweep index's order: by deadline, then by item key (the order DynamoDB
   * keeps items with equal index keys in is its own; a total order is what paging needs). A scan of every
   * row: fine for unit tests, not for a simulated fleet.
   */
  function dueIn(shard: number, now: string): { deadline: string; key: string; item: DueItem }[] {
    const due: { deadline: string; key: string; item: DueItem }[] = [];
    for (const [name, row] of t.realms) {
      if (row.purgeAt !== undefined && row.purgeAt <= now && shardOf(name) === shard) {
        due.push({ deadline: row.purgeAt, key: `REALMS#${name}`, item: { kind: "realm", realm: name } });
      }
    }
    for (const entry of t.dueEntries(shard, now)) {
      due.push({
        deadline: entry.deadline,
        key: entry.key,
        item: { kind: "certificate", record: certificateOut(entry.row) },
      });
    }
    for (const row of t.dueIntents(shard, now)) {
      const { realm, deviceId, requestId } = row.intent;
      due.push({
        deadline: row.deadline,
        key: `${realm}#${deviceId}#INTENT#${requestId}`,
        item: { kind: "intent", intent: intentOut(row) },
      });
    }
    return due.sort((a, b) => compare(a.deadline, b.deadline) || compare(a.key, b.key));
  }

  /** Takes away the device's current certificate if it is one of `serials`. */
  function clearCurrentSerial(realm: string, deviceId: string, serials: readonly string[]): void {
    const row = t.device(realm, deviceId);
    if (row?.device.currentSerial !== undefined && serials.includes(row.device.currentSerial)) {
      row.device.currentSerial = undefined;
      row.device.currentNotAfter = undefined;
    }
  }

  return {
    async listCertificates(realm, deviceId) {
      return sortedCertificates(t.certificatesOf(realm, deviceId)).map(certificateOut);
    },

    async getCertificate(realm, deviceId, serial) {
      const row = certificate(realm, deviceId, serial);
      return row ? certificateOut(row) : undefined;
    },

    async recordIssuance(input: RecordIssuanceInput) {
      const { certificate: c, expectedCurrentSerial, superseded, requestIp, now, secretHash, lease } = input;
      const device = t.device(c.realm, c.deviceId)?.device;
      const previous = superseded ? certificate(c.realm, c.deviceId, superseded.serial) : undefined;
      const cuts = input.graceCuts.map((serial) => certificate(c.realm, c.deviceId, serial));
      // Every condition of the transaction first: all of it applies, or none.
      const holds =
        certificate(c.realm, c.deviceId, c.serial) === undefined &&
        device !== undefined &&
        device.secretHash === secretHash &&
        !device.credentialsInhibited &&
        device.issuance.lease === lease &&
        device.currentSerial === expectedCurrentSerial &&
        (!superseded || previous?.record.state === "current") &&
        cuts.every((cut) => cut?.record.state === "superseded");
      if (!holds || !device) throw new ConcurrentIssuanceError();

      const row: CertificateRow = { record: copy(c) as Mutable<CertificateRecord>, deadline: c.notAfter };
      t.certificatesOf(c.realm, c.deviceId).set(c.serial, row);
      t.indexDue(row);
      device.currentSerial = c.serial;
      device.currentNotAfter = c.notAfter;
      device.firstCredentialsRequest ??= now;
      if (requestIp) device.lastCredentialsRequestIp = requestIp;
      device.issuance.tat = input.charge.tat;
      device.issuance.admitAt = input.charge.admitAt;
      device.issuance.lastKey = input.charge.key;
      device.issuance.lease = undefined;
      t.intentsOf(c.realm, c.deviceId).delete(input.intentRequestId);
      t.event({ realm: c.realm, deviceId: c.deviceId, type: "issued", at: now, serial: c.serial });
      if (superseded && previous) {
        previous.record.state = "superseded";
        previous.record.graceUntil = superseded.graceUntil;
        previous.deadline = superseded.graceUntil;
        t.indexDue(previous);
        t.event(
          {
            realm: c.realm,
            deviceId: c.deviceId,
            type: "superseded",
            at: now,
            serial: superseded.serial,
            reason: `grace until ${superseded.graceUntil}`,
          },
          1,
        );
      }
      for (const [index, cut] of cuts.entries()) {
        if (!cut) continue;
        cut.record.graceUntil = now;
        cut.deadline = now;
        t.indexDue(cut);
        t.event(
          {
            realm: c.realm,
            deviceId: c.deviceId,
            type: "superseded",
            at: now,
            serial: input.graceCuts[index],
            reason: "grace cut: too many live certificates",
          },
          2,
        );
      }
    },

    async rollbackIssuance(input: RollbackIssuanceInput) {
      const { certificate: c, restoredCurrentSerial, unconfirm, intent, intentDeadline } = input;
      const row = certificate(c.realm, c.deviceId, c.serial);
      const device = t.device(c.realm, c.deviceId)?.device;
      const restored = restoredCurrentSerial
        ? certificate(c.realm, c.deviceId, restoredCurrentSerial)
        : undefined;
      const holds =
        row?.record.state === "current" &&
        device?.currentSerial === c.serial &&
        (!restoredCurrentSerial || restored?.record.state === "superseded");
      // A newer issuance already moved the device on: nothing of ours is left to undo.
      if (!holds || !device) return;
      t.certificatesOf(c.realm, c.deviceId).delete(c.serial);
      device.currentSerial = restoredCurrentSerial;
      device.currentNotAfter = restored?.record.notAfter;
      if (unconfirm) device.firstCredentialsRequest = undefined;
      const put: IntentRow = { intent: copy(intent) as Mutable<IssuanceIntent>, deadline: intentDeadline };
      t.intentsOf(intent.realm, intent.deviceId).set(intent.requestId, put);
      t.noteIntent(put);
      if (restored) {
        restored.record.state = "current";
        restored.record.graceUntil = undefined;
        restored.deadline = restored.record.notAfter;
        t.indexDue(restored);
      }
    },

    async putIntent(intent, deadline) {
      const row: IntentRow = { intent: copy(intent) as Mutable<IssuanceIntent>, deadline };
      t.intentsOf(intent.realm, intent.deviceId).set(intent.requestId, row);
      t.noteIntent(row);
    },

    async setIntentCertificate(intent, certificateRef) {
      // If the issuance already finished and deleted the intent, there is nothing to add to.
      const row = t.intents.get(`${intent.realm}#${intent.deviceId}`)?.get(intent.requestId);
      if (row) row.intent.certificateRef = certificateRef;
    },

    async deleteIntent(intent) {
      t.intents.get(`${intent.realm}#${intent.deviceId}`)?.delete(intent.requestId);
    },

    async listHoldings(realm, deviceId) {
      const intents = [...t.intentsOf(realm, deviceId).values()].sort((a, b) =>
        compare(a.intent.requestId, b.intent.requestId),
      );
      return {
        certificates: sortedCertificates(t.certificatesOf(realm, deviceId)).map(certificateOut),
        intents: intents.map(intentOut),
      };
    },

    async purgeDevice(realm, deviceId) {
      t.purge(realm, deviceId);
    },

    async findDue(shard, now, limit, cursor) {
      const after = cursor === undefined ? undefined : (JSON.parse(cursor) as [string, string]);
      const due = dueIn(shard, now).filter(
        (d) =>
          !after ||
          compare(d.deadline, after[0]) > 0 ||
          (d.deadline === after[0] && compare(d.key, after[1]) > 0),
      );
      const page = due.slice(0, limit);
      const last = page.at(-1);
      // Like DynamoDB: a full page says where it stopped, even when nothing follows.
      return {
        items: page.map((d) => d.item),
        cursor: page.length === limit && last ? JSON.stringify([last.deadline, last.key]) : undefined,
      };
    },

    async dueBacklog(shard, now, cap) {
      const due = dueIn(shard, now);
      return { count: Math.min(due.length, cap), oldest: due[0]?.deadline };
    },

    async deferRevocation(record, until) {
      const row: CertificateRow | undefined = certificate(record.realm, record.deviceId, record.serial);
      if (row?.record.state !== record.state || row.deadline === undefined) return false;
      row.record.revocationPending = true;
      row.deadline = until;
      t.indexDue(row);
      return true;
    },

    async retireCertificate(record, reason, now) {
      const row: CertificateRow | undefined = certificate(record.realm, record.deviceId, record.serial);
      if (row?.record.state !== record.state) return false;
      row.record.state = "retired";
      row.record.retiredReason = reason;
      row.deadline = undefined;
      // Revocation and supersession were recorded when they happened; expiry happens now.
      if (reason === "expired") {
        t.event({
          realm: record.realm,
          deviceId: record.deviceId,
          type: "expired",
          at: now,
          serial: record.serial,
        });
      }
      if (record.state === "current") clearCurrentSerial(record.realm, record.deviceId, [record.serial]);
      return true;
    },

    async markRevoked(realm, deviceId, serials, now) {
      for (const serial of serials) {
        const row = certificate(realm, deviceId, serial);
        if (row?.record.state !== "current" && row?.record.state !== "superseded") continue;
        // Due for the sweeper now: it takes the certificate out of IoT and revokes it in the CA.
        row.record.state = "revoked";
        row.deadline = now;
        t.indexDue(row);
        t.event({ realm, deviceId, type: "revoked", at: now, serial });
      }
      // A revoked certificate is no longer the device's current one; the next issuance supersedes nothing.
      clearCurrentSerial(realm, deviceId, serials);
    },
  };
}
