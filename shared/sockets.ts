import { PostToConnectionCommand } from "@aws-sdk/client-apigatewaymanagementapi";
import type { ServerMessage } from "#events/ws";
import { managementApi } from "./aws.ts";

/** Sends one message over the management API. A 410 means the client is gone and is reported, not thrown. */
export async function sendToConnection(
  connectionId: string,
  message: ServerMessage,
): Promise<"sent" | "gone"> {
  try {
    await managementApi().send(
      new PostToConnectionCommand({ ConnectionId: connectionId, Data: Buffer.from(JSON.stringify(message)) }),
    );
    return "sent";
  } catch (error) {
    if (error instanceof Error && error.name === "GoneException") return "gone";
    throw error;
  }
}
