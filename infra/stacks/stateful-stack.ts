import { CfnOutput, RemovalPolicy, Stack, type StackProps, Validations } from "aws-cdk-lib";
import type { TableV2 } from "aws-cdk-lib/aws-dynamodb";
import { Secret } from "aws-cdk-lib/aws-secretsmanager";
import type { Construct } from "constructs";
import type { StageSettings } from "../config.ts";
import { CredentialEvents } from "../constructs/credential-events.ts";
import { DeviceTable } from "../constructs/device-table.ts";
import { IotTransport } from "../constructs/iot-transport.ts";
import { PrivateCa, privateCaId } from "../constructs/private-ca.ts";

export interface StatefulStackProps extends StackProps {
  readonly settings: StageSettings;
}

/**
 * What holds the fleet's identity and must outlive deployments: the table, the private CA, the key credentials
 * secrets are hashed under, and the IoT device policy (certificates stay attached to it).
 */
export class StatefulStack extends Stack {
  readonly table: TableV2;
  readonly hashKey: Secret;
  /** The CA new certificates come from. */
  readonly ca: PrivateCa;
  /** The CA being retired, trusted and revoked at until its certificates have expired. */
  readonly retiringCa: PrivateCa | undefined;
  readonly transport: IotTransport;
  readonly events: CredentialEvents;

  constructor(scope: Construct, id: string, props: StatefulStackProps) {
    super(scope, id, props);
    const retain = props.settings.stage !== "dev";
    const removalPolicy = retain ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY;
    this.table = new DeviceTable(this, "Devices", { retain }).table;
    const { certificateAuthority, retiringCertificateAuthority } = props.settings;
    this.ca = new PrivateCa(this, privateCaId(certificateAuthority, "issuing"), {
      settings: certificateAuthority,
      removalPolicy,
    });
    this.retiringCa =
      retiringCertificateAuthority &&
      new PrivateCa(this, privateCaId(retiringCertificateAuthority, "retiring"), {
        settings: retiringCertificateAuthority,
        removalPolicy,
      });
    const hashKey = new Secret(this, "SecretHashKey", {
      description: "HMAC key Tether stores device credentials secrets under",
      generateSecretString: { passwordLength: 64, excludePunctuation: true },
      removalPolicy,
    });
    Validations.of(hashKey).acknowledge({
      id: "AwsSolutions-SMG4",
      reason:
        "Rotating the hashing key would invalidate every stored credentials secret; rotate device secrets instead.",
    });
    this.hashKey = hashKey;
    this.transport = new IotTransport(this, "Transport");
    this.events = new CredentialEvents(this, "Events", { table: this.table });
    new CfnOutput(this, "EventBusArn", {
      value: this.events.bus.eventBusArn,
      description: "Credential events",
    });
    new CfnOutput(this, "CaArn", {
      value: this.ca.arn,
      description: "Private CA that signs device certificates",
    });
    if (this.retiringCa) {
      new CfnOutput(this, "RetiringCaArn", {
        value: this.retiringCa.arn,
        description: "Private CA being retired: trusted until the certificates it issued expire",
      });
    }
    new CfnOutput(this, "BrokerUrl", {
      value: this.transport.brokerUrl,
      description: "MQTT broker devices connect to",
    });
  }
}
