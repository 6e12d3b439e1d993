import { useQuery } from "@tanstack/react-query";
import { useState } from "react";
import {
  Bar,
  BarChart,
  CartesianGrid,
  ReferenceLine,
  ResponsiveContainer,
  Tooltip,
  XAxis,
  YAxis,
} from "recharts";
import { useServices } from "../api/services.tsx";
import { Empty, QueryState } from "../components/data-state.tsx";
import { PageHeader } from "../components/page-header.tsx";

/** Per agent: how often people approved its reviewed results in each confidence band, and the threshold that supports. */
export function CalibrationPage() {
  const { api } = useServices();
  const agents = useQuery({ queryKey: ["agents"], queryFn: api.listAgents });
  const [chosen, setChosen] = useState<string>("");
  return (
    <>
      <PageHeader
        title="Calibration"
        meta="Human decisions on each agent's reviewed results, by confidence. review: {adaptive: true} routes with the recommended autoApproveAt."
      />
      <QueryState query={agents} label="agents">
        {(page) => {
          if (page.items.length === 0) return <Empty>No agents yet.</Empty>;
          const agentId = chosen || page.items[0]?.id || "";
          return (
            <>
              <label className="field">
                <span>Agent</span>
                <select value={agentId} onChange={(e) => setChosen(e.target.value)}>
                  {page.items.map((agent) => (
                    <option key={agent.id} value={agent.id}>
                      {agent.name}
                    </option>
                  ))}
                </select>
              </label>
              <AgentCalibration agentId={agentId} />
            </>
          );
        }}
      </QueryState>
    </>
  );
}

function AgentCalibration({ agentId }: { agentId: string }) {
  const { api } = useServices();
  const calibration = useQuery({
    queryKey: ["calibration", agentId],
    queryFn: () => api.getAgentCalibration(agentId),
  });
  return (
    <QueryState query={calibration} label="calibration">
      {(data) => {
        const rows = data.bands.map((band) => ({
          band: `${band.from.toFixed(1)}–${band.to.toFixed(1)}`,
          from: band.from,
          rate: band.approvalRate === null ? 0 : Math.round(band.approvalRate * 100),
          decisions: band.decisions,
        }));
        const recommended = data.recommendedAutoApproveAt;
        return (
          <section className="card" aria-label={`Calibration of ${data.agent}`}>
            <h2>{data.agent}</h2>
            <p role="status" className="small">
              {recommended === null
                ? `No recommendation yet: ${data.reason}`
                : `Recommended autoApproveAt: ${recommended} (${data.support.decisions} decisions at or above it)`}
            </p>
            <p className="muted small">
              Rule: the lowest band edge at or above which people approved at least{" "}
              {Math.round(data.rule.targetApprovalRate * 100)}% of at least {data.rule.minDecisions}{" "}
              decisions.
            </p>
            <figure
              aria-label="Approval rate by confidence band"
              style={{ width: "100%", height: 260, margin: 0 }}
            >
              <ResponsiveContainer width="100%" height="100%">
                <BarChart data={rows}>
                  <CartesianGrid strokeDasharray="3 3" />
                  <XAxis dataKey="band" />
                  <YAxis domain={[0, 100]} unit="%" />
                  <Tooltip
                    formatter={(value, _name, item) => [`${value}% of ${item.payload.decisions}`, "approved"]}
                  />
                  <Bar
                    dataKey="rate"
                    name="approved"
                    fill="var(--accent, #4f6bed)"
                    isAnimationActive={false}
                  />
                  {recommended !== null && (
                    <ReferenceLine
                      x={rows.find((row) => Math.abs(row.from - recommended) < 1e-9)?.band}
                      stroke="var(--ok, #1a7f37)"
                      label="recommended"
                    />
                  )}
                </BarChart>
              </ResponsiveContainer>
            </figure>
            <table className="table small">
              <caption className="visually-hidden">Decisions by confidence band</caption>
              <thead>
                <tr>
                  <th scope="col">Band</th>
                  <th scope="col">Decisions</th>
                  <th scope="col">Approved</th>
                </tr>
              </thead>
              <tbody>
                {data.bands
                  .filter((band) => band.decisions > 0)
                  .map((band) => (
                    <tr key={band.from}>
                      <td>
                        {band.from.toFixed(1)}–{band.to.toFixed(1)}
                      </td>
                      <td>{band.decisions}</td>
                      <td>{band.approvalRate === null ? "" : `${Math.round(band.approvalRate * 100)}%`}</td>
                    </tr>
                  ))}
              </tbody>
            </table>
          </section>
        );
      }}
    </QueryState>
  );
}
