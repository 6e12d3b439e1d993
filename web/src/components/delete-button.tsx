import { type QueryKey, useMutation, useQueryClient } from "@tanstack/react-query";
import { InlineError } from "./data-state.tsx";

/** A row's Delete button: calls the API, refreshes the list it belongs to, and shows the API's error beside it. */
export function DeleteButton({
  label,
  onDelete,
  queryKey,
}: {
  /** Says what goes, for screen readers: "Delete agent triager". */
  label: string;
  onDelete: () => Promise<unknown>;
  queryKey: QueryKey;
}) {
  const queryClient = useQueryClient();
  const remove = useMutation({
    mutationFn: onDelete,
    onSuccess: () => void queryClient.invalidateQueries({ queryKey }),
  });
  return (
    <>
      <button
        type="button"
        className="button button-small button-danger"
        disabled={remove.isPending}
        onClick={() => remove.mutate()}
        aria-label={label}
      >
        Delete
      </button>
      <InlineError error={remove.error} />
    </>
  );
}
