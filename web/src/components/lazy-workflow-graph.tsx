import { type ComponentProps, lazy, Suspense } from "react";
import { Loading } from "./data-state.tsx";

// React Flow and dagre are most of the bundle and only two pages draw graphs, so they load on demand.
const Graph = lazy(() => import("./workflow-graph.tsx").then((m) => ({ default: m.WorkflowGraph })));

export function WorkflowGraph(props: ComponentProps<typeof Graph>) {
  return (
    <Suspense
      fallback={
        <section className="graph graph-loading" aria-label={props.label}>
          <Loading label="Loading graph…" />
        </section>
      }
    >
      <Graph {...props} />
    </Suspense>
  );
}
