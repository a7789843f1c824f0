import { resolve } from "node:path";
import { type CfnElement, CfnOutput, Duration, RemovalPolicy, Stack, Validations } from "aws-cdk-lib";
import {
  Distribution,
  HeadersFrameOption,
  HeadersReferrerPolicy,
  ResponseHeadersPolicy,
  ViewerProtocolPolicy,
} from "aws-cdk-lib/aws-cloudfront";
import { S3BucketOrigin } from "aws-cdk-lib/aws-cloudfront-origins";
import { BlockPublicAccess, Bucket, BucketEncryption } from "aws-cdk-lib/aws-s3";
import { BucketDeployment, Source } from "aws-cdk-lib/aws-s3-deployment";
import { Construct } from "constructs";
import { dashboardContentSecurityPolicy } from "../dashboard-headers.ts";
import { nagId } from "./nag-ids.ts";

export interface DashboardSiteProps {
  readonly appengineUrl: string;
  readonly pairingUrl: string;
  /** Where the API is (`https://host`): the only origin besides its own the dashboard may call. */
  readonly apiOrigin: string;
  readonly removalPolicy: RemovalPolicy;
}

/**
 * The dashboard as a static site: a private bucket behind CloudFront (origin access control), with a
 * `config.json` naming the API. No token is deployed: a person signs in with a realm JWT they paste.
 */
export class DashboardSite extends Construct {
  readonly url: string;

  constructor(scope: Construct, id: string, props: DashboardSiteProps) {
    super(scope, id);
    const bucket = new Bucket(this, "Bucket", {
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      encryption: BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      removalPolicy: props.removalPolicy,
      autoDeleteObjects: props.removalPolicy === RemovalPolicy.DESTROY,
    });
    // The same headers npm start's server sends (infra/dashboard-headers.ts): a strict CSP, no framing.
    const headers = new ResponseHeadersPolicy(this, "SecurityHeaders", {
      comment: "Tether dashboard: strict CSP, no framing, no sniffing",
      securityHeadersBehavior: {
        contentSecurityPolicy: {
          contentSecurityPolicy: dashboardContentSecurityPolicy(props.apiOrigin),
          override: true,
        },
        frameOptions: { frameOption: HeadersFrameOption.DENY, override: true },
        contentTypeOptions: { override: true },
        referrerPolicy: { referrerPolicy: HeadersReferrerPolicy.NO_REFERRER, override: true },
        strictTransportSecurity: {
          accessControlMaxAge: Duration.days(365),
          includeSubdomains: true,
          override: true,
        },
      },
    });
    const distribution = new Distribution(this, "Distribution", {
      comment: "Tether dashboard",
      defaultRootObject: "index.html",
      defaultBehavior: {
        origin: S3BucketOrigin.withOriginAccessControl(
          bucket as unknown as Parameters<typeof S3BucketOrigin.withOriginAccessControl>[0],
        ),
        viewerProtocolPolicy: ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
        responseHeadersPolicy: headers,
      },
    });
    new BucketDeployment(this, "Content", {
      destinationBucket: bucket as unknown as ConstructorParameters<
        typeof BucketDeployment
      >[2]["destinationBucket"],
      distribution,
      sources: [
        Source.asset(resolve(import.meta.dirname, "../../dashboard")),
        Source.jsonData("config.json", {
          appengineUrl: props.appengineUrl,
          pairingUrl: props.pairingUrl,
          metadataColumns: ["model", "mac"],
        }),
      ],
    });
    this.url = `https://${distribution.distributionDomainName}`;
    new CfnOutput(this, "DashboardUrl", { value: this.url, description: "Fleet dashboard" });

    const ack = (scope: Construct, ids: string[], reason: string) => {
      for (const id of ids) Validations.of(scope).acknowledge({ id, reason });
    };
    ack(bucket, ["AwsSolutions-S1"], "Static dashboard files; CloudFront is the only reader.");
    // CDK's own deployment function (a stack singleton) copies the files at deploy time.
    const deployer = Stack.of(this).node.children.find((c) =>
      c.node.id.startsWith("Custom::CDKBucketDeployment"),
    );
    if (deployer) {
      ack(
        deployer,
        [
          "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]",
          "AwsSolutions-IAM5[Action::s3:GetBucket*]",
          "AwsSolutions-IAM5[Action::s3:GetObject*]",
          "AwsSolutions-IAM5[Action::s3:List*]",
          "AwsSolutions-IAM5[Action::s3:Abort*]",
          "AwsSolutions-IAM5[Action::s3:DeleteObject*]",
          nagId(
            this,
            "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:s3:::cdk-hnb659fds-assets-<AWS::AccountId>-<AWS::Region>/*]",
          ),
          `AwsSolutions-IAM5[Resource::<${Stack.of(this).getLogicalId(bucket.node.defaultChild as CfnElement)}.Arn>/*]`,
          "AwsSolutions-IAM5[Resource::*]",
          "AwsSolutions-L1",
        ],
        "CDK's BucketDeployment provider: copies the dashboard from the CDK asset bucket at deploy time; CDK owns its role and runtime.",
      );
    }
    ack(
      distribution,
      [
        "AwsSolutions-CFR1",
        "AwsSolutions-CFR2",
        "AwsSolutions-CFR3",
        "AwsSolutions-CFR4",
        "AwsSolutions-CFR7",
      ],
      "Static, public, credential-free files; the API behind it authorizes every call. A custom domain with its own certificate (and WAF, logging) is the operator's choice.",
    );
  }
}
