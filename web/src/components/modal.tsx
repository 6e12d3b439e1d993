import { type ReactNode, useEffect, useId, useRef } from "react";

/** A native modal dialog: focus is trapped and restored, and Escape closes it, without any library. */
export function Modal({
  open,
  onClose,
  title,
  children,
}: {
  open: boolean;
  onClose: () => void;
  title: string;
  children: ReactNode;
}) {
  const ref = useRef<HTMLDialogElement>(null);
  const titleId = useId();
  useEffect(() => {
    const dialog = ref.current;
    if (!dialog) return;
    if (open && !dialog.open) dialog.showModal();
    if (!open && dialog.open) dialog.close();
  }, [open]);
  return (
    <dialog ref={ref} className="modal" aria-labelledby={titleId} onClose={onClose}>
      {open && (
        <>
          <div className="panel-header">
            <h2 id={titleId}>{title}</h2>
            <button type="button" className="button button-ghost" onClick={onClose} aria-label="Close">
              ✕
            </button>
          </div>
          {children}
        </>
      )}
    </dialog>
  );
}
