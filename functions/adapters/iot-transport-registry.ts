import { X509Certificate } from "node:crypto";
import {
  AttachPolicyCommand,
  AttachThingPrincipalCommand,
  CreateThingCommand,
  DeleteCertificateCommand,
  DeleteThingCommand,
  DescribeCertificateCommand,
  DetachPolicyCommand,
  DetachThingPrincipalCommand,
  type IoTClient,
  ListThingPrincipalsCommand,
  ListThingsCommand,
  RegisterCertificateWithoutCACommand,
  ResourceAlreadyExistsException,
  ResourceNotFoundException,
  UpdateCertificateCommand,
} from "@aws-sdk/client-iot";
import { iotCertificateId } from "../core/certificate-id.ts";
import { deviceThingName } from "../core/identity.ts";
import type { TransportRegistry } from "../core/ports/transport-registry.ts";
import { aws } from "./aws-errors.ts";

/** The thing attribute naming its realm (ListThings filters on it). */
const REALM_ATTRIBUTE = "realm";

const ignoreNotFound = (error: unknown) => {
  if (!(error instanceof ResourceNotFoundException)) throw error;
};

/**
 * TransportRegistry on the IoT Core registry. Certificates are registered without a CA
 * (`RegisterCertificateWithoutCA`, "multi-account registration"): no CA registration and ownership proof per
 * account, at the price of requiring SNI from clients, which every current MQTT/TLS stack sends. Each
 * certificate gets the shared device policy and an exclusive association with the device's thing.
 */
export class IotTransportRegistry implements TransportRegistry {
  constructor(
    private readonly iot: IoTClient,
    private readonly policyName: string,
  ) {}

  async ensureThing(realm: string, deviceId: string): Promise<void> {
    await aws(() =>
      this.iot.send(
        new CreateThingCommand({
          thingName: deviceThingName(realm, deviceId),
          attributePayload: { attributes: { [REALM_ATTRIBUTE]: realm } },
        }),
      ),
    ).catch((error: unknown) => {
      if (!(error instanceof ResourceAlreadyExistsException)) throw error;
    });
  }

  async listRealmThings(realm: string, limit: number): Promise<string[]> {
    const out = await aws(() =>
      this.iot.send(
        new ListThingsCommand({
          attributeName: REALM_ATTRIBUTE,
          attributeValue: realm,
          maxResults: Math.min(limit, 250),
        }),
      ),
    );
    const prefix = deviceThingName(realm, "");
    return (out.things ?? [])
      .map((thing) => thing.thingName ?? "")
      .filter((name) => name.startsWith(prefix))
      .map((name) => name.slice(prefix.length));
  }

  async registerCertificate(
    certificatePem: string,
  ): Promise<{ certificateId: string; certificateArn: string }> {
    try {
      const out = await aws(() =>
        this.iot.send(new RegisterCertificateWithoutCACommand({ certificatePem, status: "ACTIVE" })),
      );
      if (!out.certificateId || !out.certificateArn)
        throw new Error("IoT registered a certificate without an id");
      return { certificateId: out.certificateId, certificateArn: out.certificateArn };
    } catch (error) {
      if (!(error instanceof ResourceAlreadyExistsException)) throw error;
      // A retried request registering the same certificate again: make sure it is ACTIVE and reuse it.
      const certificateId = iotCertificateId(new X509Certificate(certificatePem).raw);
      const described = await aws(() => this.iot.send(new DescribeCertificateCommand({ certificateId })));
      const arn = described.certificateDescription?.certificateArn;
      if (!arn) throw error;
      if (described.certificateDescription?.status !== "ACTIVE") {
        await aws(() => this.iot.send(new UpdateCertificateCommand({ certificateId, newStatus: "ACTIVE" })));
      }
      return { certificateId, certificateArn: arn };
    }
  }

  async attachCertificate(realm: string, deviceId: string, certificateArn: string): Promise<void> {
    await Promise.all([
      aws(() =>
        this.iot.send(new AttachPolicyCommand({ policyName: this.policyName, target: certificateArn })),
      ),
      aws(() =>
        this.iot.send(
          new AttachThingPrincipalCommand({
            thingName: deviceThingName(realm, deviceId),
            principal: certificateArn,
            thingPrincipalType: "EXCLUSIVE_THING",
          }),
        ),
      ),
    ]);
  }

  async certificateArn(certificateId: string): Promise<string | undefined> {
    try {
      const out = await aws(() => this.iot.send(new DescribeCertificateCommand({ certificateId })));
      return out.certificateDescription?.certificateArn;
    } catch (error) {
      if (error instanceof ResourceNotFoundException) return undefined;
      throw error;
    }
  }

  async deactivateCertificate(certificateId: string): Promise<void> {
    await aws(() =>
      this.iot.send(new UpdateCertificateCommand({ certificateId, newStatus: "INACTIVE" })),
    ).catch(ignoreNotFound);
  }

  async removeCertificate(
    realm: string,
    deviceId: string,
    certificateId: string,
    certificateArn: string,
  ): Promise<void> {
    await this.deactivateCertificate(certificateId);
    await Promise.all([
      aws(() =>
        this.iot.send(new DetachPolicyCommand({ policyName: this.policyName, target: certificateArn })),
      ).catch(ignoreNotFound),
      aws(() =>
        this.iot.send(
          new DetachThingPrincipalCommand({
            thingName: deviceThingName(realm, deviceId),
            principal: certificateArn,
          }),
        ),
      ).catch(ignoreNotFound),
    ]);
    await aws(() => this.iot.send(new DeleteCertificateCommand({ certificateId }))).catch(ignoreNotFound);
  }

  async removeThing(realm: string, deviceId: string): Promise<void> {
    const thingName = deviceThingName(realm, deviceId);
    const principals: string[] = [];
    let nextToken: string | undefined;
    try {
      do {
        const page = await aws(() =>
          this.iot.send(new ListThingPrincipalsCommand({ thingName, ...(nextToken ? { nextToken } : {}) })),
        );
        principals.push(...(page.principals ?? []));
        nextToken = page.nextToken;
      } while (nextToken);
    } catch (error) {
      if (error instanceof ResourceNotFoundException) return;
      throw error;
    }
    // Tether removes its certificates before the thing; one still attached (none should be) goes with it.
    for (const arn of principals) {
      const certificateId = arn.split("/").pop();
      if (arn.includes(":cert/") && certificateId)
        await this.removeCertificate(realm, deviceId, certificateId, arn);
    }
    await aws(() => this.iot.send(new DeleteThingCommand({ thingName }))).catch(ignoreNotFound);
  }
}
