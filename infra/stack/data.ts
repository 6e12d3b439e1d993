/**
 * The one table (keys, TTL and indexes from the manifest), the claim-check payload bucket, and the S3 Vectors
 * bucket that holds one index per collection.
 */
import { Duration, Fn, RemovalPolicy } from "aws-cdk-lib";
import {
  AttributeType,
  BillingMode,
  ProjectionType,
  StreamViewType,
  Table,
  TableEncryption,
} from "aws-cdk-lib/aws-dynamodb";
import { Key } from "aws-cdk-lib/aws-kms";
import {
  BlockPublicAccess,
  Bucket,
  BucketEncryption,
  type IBucket,
  ObjectOwnership,
  StorageClass,
} from "aws-cdk-lib/aws-s3";
import { CfnVectorBucket } from "aws-cdk-lib/aws-s3vectors";
import { Construct } from "constructs";
import { type IndexSpec, manifest } from "#infra/manifest";
import type { Settings } from "./settings.ts";

function projectionOf(index: IndexSpec): {
  projectionType: ProjectionType;
  nonKeyAttributes?: string[];
} {
  const { projection } = index;
  if (projection.type === "INCLUDE")
    return { projectionType: ProjectionType.INCLUDE, nonKeyAttributes: [...projection.include] };
  return { projectionType: projection.type === "ALL" ? ProjectionType.ALL : ProjectionType.KEYS_ONLY };
}

export interface DataProps {
  settings: Settings;
  accessLogs: IBucket;
}

export class Data extends Construct {
  readonly table: Table;
  readonly tableKey: Key;
  readonly payloads: Bucket;
  readonly vectors: { bucketName: string; bucketArn: string };

  constructor(scope: Construct, id: string, props: DataProps) {
    super(scope, id);
    const { settings } = props;
    const { table: spec } = manifest;

    this.tableKey = new Key(this, "TableKey", {
      description: "Switchboard table encryption key",
      enableKeyRotation: true,
      removalPolicy: settings.dataRemovalPolicy,
      pendingWindow: Duration.days(settings.isProd ? 30 : 7),
    });

    this.table = new Table(this, "Table", {
      partitionKey: { name: spec.partitionKey, type: AttributeType.STRING },
      sortKey: { name: spec.sortKey, type: AttributeType.STRING },
      billingMode: BillingMode.PAY_PER_REQUEST,
      encryption: TableEncryption.CUSTOMER_MANAGED,
      encryptionKey: this.tableKey,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      // Old images let the fanout tell `previousStatus` without reading the table again.
      stream: StreamViewType.NEW_AND_OLD_IMAGES,
      timeToLiveAttribute: spec.ttlAttribute,
      deletionProtection: settings.isProd,
      removalPolicy: settings.dataRemovalPolicy,
    });
    for (const index of spec.indexes) {
      this.table.addGlobalSecondaryIndex({
        indexName: index.name,
        partitionKey: { name: index.partitionKey, type: AttributeType.STRING },
        sortKey: { name: index.sortKey, type: AttributeType.STRING },
        ...projectionOf(index),
      });
    }

    this.payloads = new Bucket(this, "Payloads", {
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      encryption: BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      objectOwnership: ObjectOwnership.BUCKET_OWNER_ENFORCED,
      serverAccessLogsBucket: props.accessLogs,
      serverAccessLogsPrefix: "payloads/",
      lifecycleRules: [
        { abortIncompleteMultipartUploadAfter: Duration.days(1) },
        // Payloads stay readable for as long as the job that points at them; old ones are rarely read.
        {
          transitions: [{ storageClass: StorageClass.INFREQUENT_ACCESS, transitionAfter: Duration.days(30) }],
        },
      ],
      removalPolicy: settings.isProd ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
      autoDeleteObjects: !settings.isProd,
    });

    // SSE-S3 by default; CloudFormation names it, and the name is read back from the ARN (`…:bucket/<name>`).
    const vectorBucket = new CfnVectorBucket(this, "Vectors", {});
    vectorBucket.applyRemovalPolicy(settings.isProd ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY);
    this.vectors = {
      bucketArn: vectorBucket.attrVectorBucketArn,
      bucketName: Fn.select(1, Fn.split(":bucket/", vectorBucket.attrVectorBucketArn)),
    };
  }
}
