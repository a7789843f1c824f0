import { Stack, Validations } from "aws-cdk-lib";
import { PolicyStatement } from "aws-cdk-lib/aws-iam";
import { CfnPolicy } from "aws-cdk-lib/aws-iot";
import { AwsCustomResource, AwsCustomResourcePolicy, PhysicalResourceId } from "aws-cdk-lib/custom-resources";
import { Construct } from "constructs";
import { DEVICE_POLICY_NAME, devicePolicyDocument } from "../../functions/core/iot-policy.ts";

/**
 * What IoT Core needs to accept Tether's devices: the one device policy (certificate-CN variables make it
 * per-device), and the account's `iot:Data-ATS` endpoint as the broker URL devices are given. Certificates are
 * registered without a CA (`RegisterCertificateWithoutCA`), so no CA registration is needed here.
 */
export class IotTransport extends Construct {
  readonly policyName: string;
  readonly brokerUrl: string;
  /** `https://<iot:Data-ATS endpoint>`: where the data-plane API (DeleteConnection) is called. */
  readonly dataPlaneUrl: string;

  constructor(scope: Construct, id: string) {
    super(scope, id);
    const stack = Stack.of(this);
    this.policyName = `${DEVICE_POLICY_NAME}-${stack.stackName}`;
    new CfnPolicy(this, "DevicePolicy", {
      policyName: this.policyName,
      policyDocument: devicePolicyDocument(`arn:${stack.partition}:iot:${stack.region}:${stack.account}`),
    });

    const endpoint = new AwsCustomResource(this, "DataAtsEndpoint", {
      onUpdate: {
        service: "Iot",
        action: "describeEndpoint",
        parameters: { endpointType: "iot:Data-ATS" },
        physicalResourceId: PhysicalResourceId.of("iot-data-ats-endpoint"),
        outputPaths: ["endpointAddress"],
      },
      // DescribeEndpoint has no resource type: IAM only accepts "*" for it.
      policy: AwsCustomResourcePolicy.fromStatements([
        new PolicyStatement({ actions: ["iot:DescribeEndpoint"], resources: ["*"] }),
      ]),
      installLatestAwsSdk: false,
    });
    Validations.of(endpoint).acknowledge({
      id: "AwsSolutions-IAM5[Resource::*]",
      reason: "iot:DescribeEndpoint has no resource type; IAM requires *.",
    });
    // The custom resource's provider function is a stack-level singleton that CDK owns.
    const provider = stack.node.tryFindChild(
      AwsCustomResource.PROVIDER_FUNCTION_UUID.replaceAll("-", "").replace(/^/, "AWS"),
    );
    if (provider) {
      Validations.of(provider).acknowledge({
        id: "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]",
        reason:
          "CDK's custom-resource provider (one DescribeEndpoint call at deploy time) only writes its own logs.",
      });
    }
    this.brokerUrl = `mqtts://${endpoint.getResponseField("endpointAddress")}:8883/`;
    this.dataPlaneUrl = `https://${endpoint.getResponseField("endpointAddress")}`;
  }
}
