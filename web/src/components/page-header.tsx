import type { ReactNode } from "react";

export function PageHeader({
  title,
  children,
  meta,
}: {
  title: ReactNode;
  children?: ReactNode;
  meta?: ReactNode;
}) {
  return (
    <div className="page-header">
      <div>
        <h1>{title}</h1>
        {meta && <div className="page-meta">{meta}</div>}
      </div>
      {children && <div className="page-actions">{children}</div>}
    </div>
  );
}
