import type { RemovalPolicy } from "aws-cdk-lib";
import {
  CfnCertificate,
  CfnCertificateAuthority,
  CfnCertificateAuthorityActivation,
} from "aws-cdk-lib/aws-acmpca";
import { Construct } from "constructs";
import { CA_USAGE_MODES, type CaSettings } from "../config.ts";

export interface PrivateCaProps {
  readonly settings: CaSettings;
  readonly removalPolicy: RemovalPolicy;
}

/**
 * The construct id of a CA: one per usage mode, whether it issues or is being retired, so that moving from one
 * mode to the other adds a CA and keeps the old one in place (the short-lived CA keeps the id it always had).
 */
export function privateCaId(settings: CaSettings, role: "issuing" | "retiring"): string {
  if (settings.mode === "import") return role === "issuing" ? "ImportedCa" : "RetiringImportedCa";
  return settings.usage === "short-lived" ? "DeviceCa" : "DeviceCaGeneralPurpose";
}

/**
 * A private CA that signs device certificates: a root in the usage mode the stage chose, with its self-signed
 * certificate and activation, or an existing CA imported by ARN. In SHORT_LIVED_CERTIFICATE mode certificates
 * live 7 days at most and the CA must be the last in its hierarchy; Private CA does not check a root's own
 * validity against the mode, so one root is enough. A GENERAL_PURPOSE root issues the same 7-day certificates
 * (Tether caps validity itself), priced per certificate by monthly volume instead of flat.
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
      usageMode: CA_USAGE_MODES[props.settings.usage],
      keyAlgorithm: "EC_prime256v1",
      signingAlgorithm: this.signingAlgorithm,
      subject: { commonName: props.settings.commonName, organization: "Tether" },
      // Device certificates live days and are revoked by expiry; IoT Core checks its registry, not a CRL.
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
