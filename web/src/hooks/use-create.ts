import { useMutation, useQueryClient } from "@tanstack/react-query";

/** A create call that refreshes its list and hands back the created resource. */
export function useCreate<TBody, TResult>(
  listKey: readonly unknown[],
  create: (body: TBody) => Promise<TResult>,
  onCreated?: (result: TResult) => void,
) {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: create,
    onSuccess: (result) => {
      void queryClient.invalidateQueries({ queryKey: listKey });
      onCreated?.(result);
    },
  });
}
