import { RemovalPolicy } from "aws-cdk-lib";
import {
  AttributeType,
  Billing,
  ProjectionType,
  StreamViewType,
  TableEncryptionV2,
  TableV2,
} from "aws-cdk-lib/aws-dynamodb";
import { Construct } from "constructs";
import {
  REALM_INDEX,
  SWEEP_INDEX,
  TABLE_KEYS,
  TTL_ATTRIBUTE,
  VIEW_INDEX,
} from "../../functions/adapters/table-schema.ts";

export interface DeviceTableProps {
  readonly retain: boolean;
}

/**
 * The one table: realms, devices, certificates (keys shared with the local bootstrap through table-schema.ts).
 * On demand, point-in-time recovery, TTL, encrypted with an AWS-owned key; retained and deletion-protected
 * outside dev because it holds the fleet's identity.
 */
export class DeviceTable extends Construct {
  readonly table: TableV2;

  constructor(scope: Construct, id: string, props: DeviceTableProps) {
    super(scope, id);
    this.table = new TableV2(this, "Table", {
      partitionKey: { name: TABLE_KEYS.partition, type: AttributeType.STRING },
      sortKey: { name: TABLE_KEYS.sort, type: AttributeType.STRING },
      billing: Billing.onDemand(),
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      timeToLiveAttribute: TTL_ATTRIBUTE,
      // Feeds the credential-event pipe (the table is the events' outbox).
      dynamoStream: StreamViewType.NEW_IMAGE,
      encryption: TableEncryptionV2.awsManagedKey(),
      deletionProtection: props.retain,
      removalPolicy: props.retain ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
      globalSecondaryIndexes: [
        {
          indexName: SWEEP_INDEX.name,
          partitionKey: { name: SWEEP_INDEX.partition, type: AttributeType.STRING },
          sortKey: { name: SWEEP_INDEX.sort, type: AttributeType.STRING },
        },
        {
          indexName: REALM_INDEX.name,
          partitionKey: { name: REALM_INDEX.partition, type: AttributeType.STRING },
          sortKey: { name: REALM_INDEX.sort, type: AttributeType.STRING },
        },
        {
          // The device search's views (table-schema.ts): keys only, the page's devices are read by key.
          indexName: VIEW_INDEX.name,
          partitionKey: { name: VIEW_INDEX.partition, type: AttributeType.STRING },
          sortKey: { name: VIEW_INDEX.sort, type: AttributeType.STRING },
          projectionType: ProjectionType.KEYS_ONLY,
        },
      ],
    });
  }
}
