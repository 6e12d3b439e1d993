import { type InfiniteData, useInfiniteQuery, useQueryClient } from "@tanstack/react-query";
import { useEffect, useRef } from "react";
import type { ListJobsResponse } from "#events/jobs";
import type { JobFilter } from "../api/endpoints.ts";
import { useServices } from "../api/services.tsx";
import { useOnReconnect } from "./use-connection.ts";

type JobPages = InfiniteData<ListJobsResponse, string | undefined>;

/** How long to gather bursts of events before one refetch of the list. */
const REFETCH_AFTER_MS = 400;

/**
 * The job list, kept live by the app-wide `all` subscription: a known job's status is patched in place;
 * an unknown job, or any change while a filter is on, refetches the list so new jobs appear in order and
 * filtered-out ones leave.
 */
export function useLiveJobs(filter: Omit<JobFilter, "cursor">) {
  const { api, socket } = useServices();
  const queryClient = useQueryClient();
  const queryKey = [
    "jobs",
    filter.status ?? "",
    filter.workflowId ?? "",
    filter.q ?? "",
    filter.from ?? "",
    filter.to ?? "",
    filter.limit ?? 25,
  ];
  const query = useInfiniteQuery({
    queryKey,
    queryFn: ({ pageParam }) => api.listJobs({ ...filter, ...(pageParam ? { cursor: pageParam } : {}) }),
    initialPageParam: undefined as string | undefined,
    getNextPageParam: (last) => last.cursor,
  });

  const filtered = Boolean(filter.status || filter.workflowId || filter.q || filter.from || filter.to);
  const timer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);

  useEffect(() => {
    const refetchSoon = () => {
      clearTimeout(timer.current);
      timer.current = setTimeout(
        () => void queryClient.invalidateQueries({ queryKey: ["jobs"] }),
        REFETCH_AFTER_MS,
      );
    };
    const unsubscribe = socket.subscribeAll((message) => {
      if (message.type !== "job.status_changed") return;
      let known = false;
      queryClient.setQueriesData<JobPages>({ queryKey: ["jobs"] }, (data) => {
        if (!data) return data;
        return {
          ...data,
          pages: data.pages.map((page) => ({
            ...page,
            items: page.items.map((job) => {
              if (job.id !== message.jobId) return job;
              known = true;
              // A replay can carry an older event than the row already shows.
              if (job.seq >= message.seq) return job;
              return { ...job, status: message.status, seq: message.seq, updatedAt: message.at };
            }),
          })),
        };
      });
      if (!known || filtered) refetchSoon();
    });
    return () => {
      clearTimeout(timer.current);
      unsubscribe();
    };
  }, [socket, queryClient, filtered]);

  // Events for `all` are not replayed after a drop, so the list is fetched again instead.
  useOnReconnect(() => void queryClient.invalidateQueries({ queryKey: ["jobs"] }));

  return query;
}
