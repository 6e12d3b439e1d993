import { type AgentCalibration, CALIBRATION_RULE } from "#events/calibration";
import { resolveAgent } from "../agents/catalog.ts";
import { notFound } from "../errors.ts";
import { getAgentStatsItem } from "../stores/approvals.ts";
import { type Calibration, calibrate } from "./calibrate.ts";

/** The decided counts per 0.1 band, from the running statistics the approvals keep per agent id. */
export async function calibrationOf(tenantId: string, agentId: string): Promise<Calibration> {
  const item = (await getAgentStatsItem(tenantId, agentId)) ?? {};
  const count = (field: string) => Number(item[field] ?? 0);
  return calibrate(
    Array.from({ length: 10 }, (_, band) => ({
      from: band / 10,
      to: (band + 1) / 10,
      approved: count(`conf${band}_approved`),
      rejected: count(`conf${band}_rejected`),
    })),
  );
}

export async function agentCalibration(tenantId: string, nameOrId: string): Promise<AgentCalibration> {
  const agent = await resolveAgent(tenantId, nameOrId);
  if (agent === undefined) throw notFound("Agent", nameOrId);
  return {
    agentId: agent.id,
    agent: agent.name,
    rule: { ...CALIBRATION_RULE },
    ...(await calibrationOf(tenantId, agent.id)),
  };
}
