import { createHash } from "node:crypto";
import {
  type ACMPCAClient,
  CreateCertificateAuthorityCommand,
  GetCertificateAuthorityCertificateCommand,
  GetCertificateAuthorityCsrCommand,
  ImportCertificateAuthorityCertificateCommand,
  IssueCertificateCommand,
  ListCertificateAuthoritiesCommand,
  ListTagsCommand,
} from "@aws-sdk/client-acm-pca";
import {
  CreateTableCommand,
  type DynamoDBClient,
  ResourceInUseException,
  waitUntilTableExists,
} from "@aws-sdk/client-dynamodb";
import { CreatePolicyCommand, type IoTClient, ResourceAlreadyExistsException } from "@aws-sdk/client-iot";
import type { AwsClients } from "../functions/adapters/aws-clients.ts";
import { fetchIssuedCertificate } from "../functions/adapters/pca-polling.ts";
import { REALM_INDEX, SWEEP_INDEX, TABLE_KEYS, VIEW_INDEX } from "../functions/adapters/table-schema.ts";
import { DEVICE_POLICY_NAME, devicePolicyDocument } from "../functions/core/iot-policy.ts";
import { generateKeyAndCsr } from "./x509.ts";

export const LOCAL_TABLE_NAME = "tether-local";
const CA_TAG = { Key: "tether:role", Value: "local-root-ca" } as const;
const ROOT_TEMPLATE = "arn:aws:acm-pca:::template/RootCACertificate/V1";
const END_ENTITY_TEMPLATE = "arn:aws:acm-pca:::template/EndEntityCertificate/V1";

export interface LocalEnvironment {
  readonly tableName: string;
  readonly caArn: string;
  /** The private CA's certificate: what signs device certificates, and the broker's. */
  readonly caCertPem: string;
  readonly policyName: string;
  /** `arn:<partition>:iot:<region>:<account>`, read off the CA's ARN. */
  readonly iotArnPrefix: string;
  readonly broker: { readonly certPem: string; readonly keyPem: string };
}

/**
 * Brings the local AWS (moto, or LocalStack) to the state Tether expects: its table, a private root CA in
 * short-lived mode, the device IoT policy, and a server certificate for the local broker issued by that CA.
 * Idempotent: whatever already exists is reused, so tests and `npm start` share it.
 */
export async function bootstrapLocal(
  clients: AwsClients,
  tableName = LOCAL_TABLE_NAME,
): Promise<LocalEnvironment> {
  const aws = await ensureLocalAws(clients, tableName);
  return { ...aws, broker: await issueBrokerCertificate(clients.pca, aws.caArn) };
}

/** The table, CA and device policy only (what a tool beside a running instance, like the sweep, needs). */
export async function ensureLocalAws(
  clients: AwsClients,
  tableName = LOCAL_TABLE_NAME,
): Promise<Omit<LocalEnvironment, "broker">> {
  const [, ca] = await Promise.all([ensureTable(clients.dynamo, tableName), ensureRootCa(clients.pca)]);
  const iotArnPrefix = iotArnPrefixFrom(ca.caArn);
  await ensureDevicePolicy(clients.iot, iotArnPrefix);
  return { tableName, ...ca, policyName: DEVICE_POLICY_NAME, iotArnPrefix };
}

export async function ensureTable(dynamo: DynamoDBClient, tableName: string): Promise<void> {
  try {
    await dynamo.send(
      new CreateTableCommand({
        TableName: tableName,
        BillingMode: "PAY_PER_REQUEST",
        AttributeDefinitions: [
          { AttributeName: TABLE_KEYS.partition, AttributeType: "S" },
          { AttributeName: TABLE_KEYS.sort, AttributeType: "S" },
          { AttributeName: SWEEP_INDEX.partition, AttributeType: "S" },
          { AttributeName: SWEEP_INDEX.sort, AttributeType: "S" },
          { AttributeName: REALM_INDEX.partition, AttributeType: "S" },
          { AttributeName: REALM_INDEX.sort, AttributeType: "S" },
          { AttributeName: VIEW_INDEX.partition, AttributeType: "S" },
          { AttributeName: VIEW_INDEX.sort, AttributeType: "S" },
        ],
        KeySchema: [
          { AttributeName: TABLE_KEYS.partition, KeyType: "HASH" },
          { AttributeName: TABLE_KEYS.sort, KeyType: "RANGE" },
        ],
        GlobalSecondaryIndexes: [
          {
            IndexName: SWEEP_INDEX.name,
            KeySchema: [
              { AttributeName: SWEEP_INDEX.partition, KeyType: "HASH" },
              { AttributeName: SWEEP_INDEX.sort, KeyType: "RANGE" },
            ],
            Projection: { ProjectionType: "ALL" },
          },
          {
            IndexName: REALM_INDEX.name,
            KeySchema: [
              { AttributeName: REALM_INDEX.partition, KeyType: "HASH" },
              { AttributeName: REALM_INDEX.sort, KeyType: "RANGE" },
            ],
            Projection: { ProjectionType: "ALL" },
          },
          {
            IndexName: VIEW_INDEX.name,
            KeySchema: [
              { AttributeName: VIEW_INDEX.partition, KeyType: "HASH" },
              { AttributeName: VIEW_INDEX.sort, KeyType: "RANGE" },
            ],
            Projection: { ProjectionType: "KEYS_ONLY" },
          },
        ],
      }),
    );
  } catch (error) {
    if (!(error instanceof ResourceInUseException)) throw error;
  }
  await waitUntilTableExists({ client: dynamo, maxWaitTime: 30, minDelay: 1 }, { TableName: tableName });
}

/** Finds the ACTIVE local root CA by its tag, or creates one. */
export async function ensureRootCa(pca: ACMPCAClient): Promise<{ caArn: string; caCertPem: string }> {
  const existing = await findTaggedActiveCa(pca);
  if (existing) {
    const out = await pca.send(
      new GetCertificateAuthorityCertificateCommand({ CertificateAuthorityArn: existing }),
    );
    if (out.Certificate) return { caArn: existing, caCertPem: out.Certificate };
  }
  // Short-lived mode: certificates of at most 7 days, at a fraction of the general-purpose price.
  return createRootCa(pca, {
    usageMode: "SHORT_LIVED_CERTIFICATE",
    commonName: "Tether local root CA",
    tags: [CA_TAG],
  });
}

/**
 * A new, active root CA as the stack builds one: create → CSR → self-issue → import. (moto records no usage
 * mode: it reports every CA as short-lived and enforces neither mode's validity bounds.)
 */
export async function createRootCa(
  pca: ACMPCAClient,
  options: {
    readonly usageMode: "SHORT_LIVED_CERTIFICATE" | "GENERAL_PURPOSE";
    readonly commonName: string;
    readonly tags?: { Key: string; Value: string }[];
  },
): Promise<{ caArn: string; caCertPem: string }> {
  const created = await pca.send(
    new CreateCertificateAuthorityCommand({
      CertificateAuthorityType: "ROOT",
      UsageMode: options.usageMode,
      CertificateAuthorityConfiguration: {
        KeyAlgorithm: "EC_prime256v1",
        SigningAlgorithm: "SHA256WITHECDSA",
        Subject: { CommonName: options.commonName, Organization: "Tether" },
      },
      ...(options.tags ? { Tags: options.tags } : {}),
    }),
  );
  const caArn = required(created.CertificateAuthorityArn, "CertificateAuthorityArn");
  const csr = await pca.send(new GetCertificateAuthorityCsrCommand({ CertificateAuthorityArn: caArn }));
  const issued = await pca.send(
    new IssueCertificateCommand({
      CertificateAuthorityArn: caArn,
      Csr: new TextEncoder().encode(required(csr.Csr, "Csr")),
      SigningAlgorithm: "SHA256WITHECDSA",
      TemplateArn: ROOT_TEMPLATE,
      Validity: { Type: "YEARS", Value: 10 },
    }),
  );
  const { certificatePem } = await fetchIssuedCertificate(
    pca,
    caArn,
    required(issued.CertificateArn, "CertificateArn"),
  );
  await pca.send(
    new ImportCertificateAuthorityCertificateCommand({
      CertificateAuthorityArn: caArn,
      Certificate: new TextEncoder().encode(certificatePem),
    }),
  );
  return { caArn, caCertPem: certificatePem };
}

async function findTaggedActiveCa(pca: ACMPCAClient): Promise<string | undefined> {
  let NextToken: string | undefined;
  do {
    const page = await pca.send(new ListCertificateAuthoritiesCommand(NextToken ? { NextToken } : {}));
    for (const ca of page.CertificateAuthorities ?? []) {
      if (ca.Status !== "ACTIVE" || !ca.Arn) continue;
      const tags = await pca.send(new ListTagsCommand({ CertificateAuthorityArn: ca.Arn }));
      if (tags.Tags?.some((t) => t.Key === CA_TAG.Key && t.Value === CA_TAG.Value)) return ca.Arn;
    }
    NextToken = page.NextToken;
  } while (NextToken);
  return undefined;
}

export async function ensureDevicePolicy(iot: IoTClient, iotArnPrefix: string): Promise<void> {
  try {
    await iot.send(
      new CreatePolicyCommand({
        policyName: DEVICE_POLICY_NAME,
        policyDocument: JSON.stringify(devicePolicyDocument(iotArnPrefix)),
      }),
    );
  } catch (error) {
    if (!(error instanceof ResourceAlreadyExistsException)) throw error;
  }
}

/** A TLS server certificate for the local broker, for `localhost` and `127.0.0.1`, from the private CA. */
export async function issueBrokerCertificate(
  pca: ACMPCAClient,
  caArn: string,
): Promise<{ certPem: string; keyPem: string }> {
  const { privateKeyPem, csrPem } = await generateKeyAndCsr({
    subject: "CN=localhost,O=Tether local broker",
    dnsNames: ["localhost"],
    ipAddresses: ["127.0.0.1"],
  });
  const issued = await pca.send(
    new IssueCertificateCommand({
      CertificateAuthorityArn: caArn,
      Csr: new TextEncoder().encode(csrPem),
      SigningAlgorithm: "SHA256WITHECDSA",
      TemplateArn: END_ENTITY_TEMPLATE,
      Validity: { Type: "DAYS", Value: 7 },
      IdempotencyToken: createHash("sha256").update(csrPem).digest("hex").slice(0, 36),
    }),
  );
  const { certificatePem } = await fetchIssuedCertificate(
    pca,
    caArn,
    required(issued.CertificateArn, "CertificateArn"),
  );
  return { certPem: certificatePem, keyPem: privateKeyPem };
}

function iotArnPrefixFrom(caArn: string): string {
  const [, partition, , region, account] = caArn.split(":");
  if (!partition || !region || !account) throw new Error(`unexpected CA ARN ${caArn}`);
  return `arn:${partition}:iot:${region}:${account}`;
}

function required<T>(value: T | undefined, name: string): T {
  if (value === undefined || value === null) throw new Error(`AWS answered without ${name}`);
  return value;
}
