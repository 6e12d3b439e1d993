import { useMutation } from "@tanstack/react-query";
import { useId, useState } from "react";
import { useServices } from "../api/services.tsx";
import { InlineError } from "./data-state.tsx";

/** Approve or reject one approval, with an optional comment; `onDecided` refreshes what shows it. */
export function DecisionForm({ approvalId, onDecided }: { approvalId: string; onDecided: () => void }) {
  const { api } = useServices();
  const [comment, setComment] = useState("");
  const commentId = useId();
  const decide = useMutation({
    mutationFn: (decision: "approve" | "reject") =>
      api.decideApproval(approvalId, decision, comment.trim() === "" ? undefined : comment.trim()),
    onSuccess: onDecided,
  });
  return (
    <div className="approval-decide">
      <label htmlFor={commentId} className="field-label">
        Comment (optional)
      </label>
      <textarea
        id={commentId}
        rows={2}
        value={comment}
        maxLength={2000}
        onChange={(e) => setComment(e.target.value)}
      />
      <div className="actions">
        <button
          type="button"
          className="button button-primary"
          disabled={decide.isPending}
          onClick={() => decide.mutate("approve")}
        >
          Approve
        </button>
        <button
          type="button"
          className="button button-danger"
          disabled={decide.isPending}
          onClick={() => decide.mutate("reject")}
        >
          Reject
        </button>
      </div>
      <InlineError error={decide.error} />
    </div>
  );
}
