/** Where certificates become usable on the MQTT transport: the IoT Core registry. */
export interface TransportRegistry {
  /** Creates the device's thing, tagged with its realm, if it does not exist. */
  ensureThing(realm: string, deviceId: string): Promise<void>;
  /** Device ids of up to `limit` things tagged with the realm (a purge removes them after the devices). */
  listRealmThings(realm: string, limit: number): Promise<string[]>;
  /** Registers the certificate as ACTIVE. */
  registerCertificate(certificatePem: string): Promise<{ certificateId: string; certificateArn: string }>;
  /** Attaches the device policy and the device's thing (exclusively). */
  attachCertificate(realm: string, deviceId: string, certificateArn: string): Promise<void>;
  /** The ARN of a registered certificate, or undefined if IoT does not have it. */
  certificateArn(certificateId: string): Promise<string | undefined>;
  /** Sets INACTIVE: the broker refuses it from now on and drops live connections. Idempotent. */
  deactivateCertificate(certificateId: string): Promise<void>;
  /** INACTIVE, detached from thing and policy, deleted. Idempotent: a missing certificate is success. */
  removeCertificate(
    realm: string,
    deviceId: string,
    certificateId: string,
    certificateArn: string,
  ): Promise<void>;
  /** Removes the device's thing, and any certificate still attached to it. Idempotent. */
  removeThing(realm: string, deviceId: string): Promise<void>;
}
