/** The live MQTT connections of the transport: what IoT Core's data plane can do to a connected client. */
export interface ConnectionControl {
  /**
   * Closes the connection of the client with this id now, dropping its session and its last will (IoT Core's
   * `DeleteConnection`). A client that is not connected is success.
   */
  disconnect(clientId: string): Promise<void>;
}
