import { readFile } from "node:fs/promises";
import { type Command, durationOption, need, str } from "../args.ts";
import { usageError } from "../errors.ts";
import { call } from "../http.ts";
import { realmLine } from "../output.ts";

/** `tether realm …`: the housekeeping API. */
export const REALM_COMMANDS: Record<string, Command> = {
  "realm create": {
    summary: "create a realm with the public key its agent JWTs are signed with",
    usage:
      "tether realm create NAME --public-key FILE [--validity 7d] [--grace 1h] [--device-limit N] [--broker-url URL]\n" +
      "                         [--issuance-budget N (per device and hour)] [--max-live-certificates N]\n" +
      "                         [--indexed-metadata KEY,KEY (up to 3 metadata keys the device search filters on)]",
    options: {
      "public-key": { type: "string" },
      validity: { type: "string" },
      grace: { type: "string" },
      "device-limit": { type: "string" },
      "issuance-budget": { type: "string" },
      "max-live-certificates": { type: "string" },
      "indexed-metadata": { type: "string" },
      "broker-url": { type: "string" },
    },
    async run(args) {
      const name = need(args, 0, "NAME");
      const keyPath = str(args, "public-key");
      if (!keyPath) throw usageError("--public-key FILE is required (make one with `tether keys gen`)");
      const limit = str(args, "device-limit");
      const validity = durationOption(args, "validity");
      const grace = durationOption(args, "grace");
      const budget = str(args, "issuance-budget");
      const live = str(args, "max-live-certificates");
      const brokerUrl = str(args, "broker-url");
      const indexed = str(args, "indexed-metadata");
      const answer = await call(args.target(), "createRealm", {
        params: {},
        body: {
          data: {
            realm_name: name,
            jwt_public_key_pem: await readFile(keyPath, "utf8"),
            ...(validity === undefined ? {} : { certificate_validity_seconds: validity }),
            ...(grace === undefined ? {} : { grace_seconds: grace }),
            ...(limit === undefined ? {} : { device_limit: Number(limit) }),
            ...(budget ? { issuance_budget_per_hour: Number(budget) } : {}),
            ...(live ? { max_live_certificates: Number(live) } : {}),
            ...(brokerUrl ? { broker_url: brokerUrl } : {}),
            ...(indexed === undefined ? {} : { indexed_metadata_keys: keyList(indexed) }),
          },
        },
      });
      args.out(`realm ${name} created`, answer.body.data);
    },
  },
  "realm show": {
    summary: "show a realm's settings",
    usage: "tether realm show NAME",
    async run(args) {
      const answer = await call(args.target(), "getRealm", { params: { realm: need(args, 0, "NAME") } });
      args.out(realmLine(answer.body.data), answer.body.data);
    },
  },
  "realm list": {
    summary: "list realms",
    usage: "tether realm list",
    async run(args) {
      const answer = await call(args.target(), "listRealms", { params: {} });
      args.out(answer.body.data.join("\n"), answer.body.data);
    },
  },
  "realm index-metadata": {
    summary:
      "set the metadata keys the device search filters on (up to 3; existing devices follow within minutes)",
    usage: 'tether realm index-metadata NAME KEY[,KEY…]   (an empty list, "", indexes none)',
    async run(args) {
      const name = need(args, 0, "NAME");
      const keys = args.positionals[1];
      if (keys === undefined) throw usageError('missing KEY[,KEY…] ("" to index none)');
      const answer = await call(args.target(), "updateRealm", {
        params: { realm: name },
        body: { data: { indexed_metadata_keys: keyList(keys) } },
      });
      args.out(realmLine(answer.body.data), answer.body.data);
    },
  },
  "realm rotate-key": {
    summary: "replace a realm's JWT public key (tokens of the old key stop working)",
    usage: "tether realm rotate-key NAME --public-key FILE",
    options: { "public-key": { type: "string" } },
    async run(args) {
      const keyPath = str(args, "public-key");
      if (!keyPath) throw usageError("--public-key FILE is required");
      const answer = await call(args.target(), "updateRealm", {
        params: { realm: need(args, 0, "NAME") },
        body: { data: { jwt_public_key_pem: await readFile(keyPath, "utf8") } },
      });
      args.out("key rotated", answer.body.data);
    },
  },
  "realm delete": {
    summary:
      "delete a realm: its devices are shut out now, their certificates and records purged within minutes",
    usage: "tether realm delete NAME",
    async run(args) {
      const name = need(args, 0, "NAME");
      await call(args.target(), "deleteRealm", { params: { realm: name } });
      args.out(
        `realm ${name} deleted: its devices can no longer pair or verify; the sweeper removes their certificates, things and records within minutes, then frees the name`,
        { deleted: name },
      );
    },
  },
};

/** `model,mac` as a list of keys (an empty text: none). */
const keyList = (text: string) =>
  text
    .split(",")
    .map((key) => key.trim())
    .filter(Boolean);
