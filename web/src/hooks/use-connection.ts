import { useEffect, useRef, useSyncExternalStore } from "react";
import type { ConnectionState } from "../api/live-socket.ts";
import { useServices } from "../api/services.tsx";

export function useConnectionState(): ConnectionState {
  const { socket } = useServices();
  return useSyncExternalStore(socket.subscribeState, socket.getState);
}

/** Calls back each time the socket comes back after a drop, when pushed updates may have been missed. */
export function useOnReconnect(callback: () => void): void {
  const state = useConnectionState();
  const seenOpen = useRef(false);
  const wasDown = useRef(false);
  const latest = useRef(callback);
  latest.current = callback;
  useEffect(() => {
    if (state === "open") {
      if (wasDown.current) latest.current();
      wasDown.current = false;
      seenOpen.current = true;
    } else if (seenOpen.current) {
      wasDown.current = true;
    }
  }, [state]);
}
