import { useQuery, useQueryClient } from "@tanstack/react-query";
import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import type { TimelineEvent } from "#events/timeline";
import type { JobDetail } from "../api/endpoints.ts";
import type { LiveMessage } from "../api/live-socket.ts";
import { useServices } from "../api/services.tsx";
import { applyEvents, stepKey } from "../lib/job-state.ts";
import { type StreamedText, withTokens } from "../lib/streamed-text.ts";

/** Streamed agent text per step, keyed `nodeId` or `nodeId#itemIndex`. */
export type TokenStreams = Record<string, string>;

export const streamKey = stepKey;

/** How long to gather a burst of status changes before fetching the job again for its full fields. */
const REFETCH_AFTER_MS = 500;

/**
 * One job, live. The snapshot (GET /v1/jobs/{id}) and the timeline (GET …/events) load first; then a
 * job subscription asks for everything after the last sequence number seen. Every event, fetched,
 * replayed or pushed, is kept once by `seq`, and the job shown is the snapshot with later events applied.
 * After a reconnect the socket subscribes again with the then-latest `seq`, so nothing is missed.
 * Its state belongs to one job: render it under a `key` of the job id.
 */
export function useJobLive(jobId: string) {
  const { api, socket } = useServices();
  const queryClient = useQueryClient();
  const jobQuery = useQuery({ queryKey: ["job", jobId], queryFn: () => api.getJob(jobId) });
  const eventsQuery = useQuery({
    queryKey: ["job", jobId, "events"],
    queryFn: () => api.getJobEvents(jobId),
    // Live events take over once loaded; refetching would only repeat them.
    staleTime: Number.POSITIVE_INFINITY,
  });

  const [events, setEvents] = useState<Map<number, TimelineEvent>>(() => new Map());
  const [tokens, setTokens] = useState<TokenStreams>({});
  const lastSeq = useRef(0);
  const tokenIndexes = useRef(new Map<string, Set<number>>());
  const streamed = useRef(new Map<string, StreamedText>());

  const addEvents = useCallback(
    (incoming: readonly TimelineEvent[]) => {
      const fresh = incoming.filter((e) => e.jobId === jobId);
      if (fresh.length === 0) return;
      for (const e of fresh) lastSeq.current = Math.max(lastSeq.current, e.seq);
      setEvents((current) => {
        if (fresh.every((e) => current.has(e.seq))) return current;
        const next = new Map(current);
        for (const e of fresh) next.set(e.seq, e);
        return next;
      });
    },
    [jobId],
  );

  useEffect(() => {
    if (eventsQuery.data) addEvents(eventsQuery.data.items);
  }, [eventsQuery.data, addEvents]);

  const snapshotSeq = jobQuery.data?.seq;
  useEffect(() => {
    if (snapshotSeq !== undefined) lastSeq.current = Math.max(lastSeq.current, snapshotSeq);
  }, [snapshotSeq]);

  const refetchTimer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  const ready = eventsQuery.isSuccess || eventsQuery.isError;
  useEffect(() => {
    // Subscribe only once the fetched history is in, so `since` skips what was already fetched.
    if (!ready) return;
    const onMessage = (message: LiveMessage) => {
      if (message.type === "agent.token") {
        const key = streamKey(message.nodeId, message.itemIndex);
        const seen = tokenIndexes.current.get(key) ?? new Set<number>();
        if (seen.has(message.index)) return;
        seen.add(message.index);
        tokenIndexes.current.set(key, seen);
        const next = withTokens(streamed.current.get(key), message);
        streamed.current.set(key, next);
        setTokens((current) => ({ ...current, [key]: next.start > 0 ? `… ${next.text}` : next.text }));
        return;
      }
      if (!("seq" in message) || message.jobId !== jobId || message.type === "subscribed") return;
      addEvents([message]);
      if (message.type === "job.status_changed") {
        clearTimeout(refetchTimer.current);
        refetchTimer.current = setTimeout(
          () => void queryClient.invalidateQueries({ queryKey: ["job", jobId], exact: true }),
          REFETCH_AFTER_MS,
        );
      }
    };
    const unsubscribe = socket.subscribeJob(jobId, () => lastSeq.current, onMessage);
    return () => {
      clearTimeout(refetchTimer.current);
      unsubscribe();
    };
  }, [ready, jobId, socket, queryClient, addEvents]);

  const timeline = useMemo(() => [...events.values()].sort((a, b) => a.seq - b.seq), [events]);
  const job: JobDetail | undefined = useMemo(
    () => (jobQuery.data ? applyEvents(jobQuery.data, timeline) : undefined),
    [jobQuery.data, timeline],
  );

  return { job, jobQuery, eventsQuery, timeline, tokens };
}
