import {
  DeleteConnectionCommand,
  type IoTDataPlaneClient,
  ResourceNotFoundException,
} from "@aws-sdk/client-iot-data-plane";
import type { ConnectionControl } from "../core/ports/connection-control.ts";
import { aws } from "./aws-errors.ts";

/**
 * ConnectionControl on IoT Core's data plane. Deactivating a certificate makes IoT Core drop its connection
 * only "within minutes"; `DeleteConnection` closes it now. The client reaches the account's `iot:Data-ATS`
 * endpoint through `AWS_ENDPOINT_URL_IOT_DATA_PLANE`, which the stack sets (and the local test bed points at
 * the local broker's data-plane front).
 */
export class IotConnectionControl implements ConnectionControl {
  constructor(private readonly iotData: IoTDataPlaneClient) {}

  async disconnect(clientId: string): Promise<void> {
    await aws(() =>
      this.iotData.send(
        new DeleteConnectionCommand({ clientId, cleanSession: true, preventWillMessage: true }),
      ),
    ).catch((error: unknown) => {
      if (!(error instanceof ResourceNotFoundException)) throw error;
    });
  }
}
