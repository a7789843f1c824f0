import type { RemovalPolicy } from "aws-cdk-lib";
import {
  CfnCertificate,
  CfnCertificateAuthority,
  CfnCertificateAuthorityActivation,
} from "aws-cdk-lib/aws-acmpca";
import { Construct } from "constructs";
import type { StageSettings } from "../config.ts";

export interface PrivateCaProps {
  readonly settings: StageSettings["certificateAuthority"];
  readonly removalPolicy: RemovalPolicy;
}

/**
 * The private CA that signs device certificates: a root in SHORT_LIVED_CERTIFICATE mode (certificates of at
 * most 7 days, $50/month plus $0.058 each) with its self-signed certificate and activation, or an existing CA
 * imported by ARN. A short-lived CA must be the last in its hierarchy, and Private CA does not check a root's
 * own validity against the mode, so one root is enough.
 */
export class PrivateCa extends Construct {
  readonly arn: string;
  readonly signingAlgorithm: string;

  constructor(scope: Construct, id: string, props: PrivateCaProps) {
    super(scope, id);
    if (props.settings.mode === "import") {
      this.arn = props.settings.arn;
      this.signingAlgorithm = props.settings.signingAlgorithm;
      return;
    }
    this.signingAlgorithm = "SHA256WITHECDSA";
    const ca = new CfnCertificateAuthority(this, "Authority", {
      type: "ROOT",
      usageMode: "SHORT_LIVED_CERTIFICATE",
      keyAlgorithm: "EC_prime256v1",
      signingAlgorithm: this.signingAlgorithm,
      subject: { commonName: props.settings.commonName, organization: "Tether" },
      // Short-lived certificates are revoked by expiry; IoT Core checks the registry, not a CRL.
      revocationConfiguration: {
        crlConfiguration: { enabled: false },
        ocspConfiguration: { enabled: false },
      },
    });
    ca.applyRemovalPolicy(props.removalPolicy);
    const certificate = new CfnCertificate(this, "Certificate", {
      certificateAuthorityArn: ca.attrArn,
      certificateSigningRequest: ca.attrCertificateSigningRequest,
      signingAlgorithm: this.signingAlgorithm,
      templateArn: "arn:aws:acm-pca:::template/RootCACertificate/V1",
      validity: { type: "YEARS", value: 10 },
    });
    new CfnCertificateAuthorityActivation(this, "Activation", {
      certificateAuthorityArn: ca.attrArn,
      certificate: certificate.attrCertificate,
      status: "ACTIVE",
    });
    this.arn = ca.attrArn;
  }
}
