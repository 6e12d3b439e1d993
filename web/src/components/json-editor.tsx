import { useId, useRef } from "react";

/**
 * A plain textarea with a line-number gutter. Lines listed in `errorLines` are marked, so a problem
 * reported below can be found in the text.
 */
export function JsonEditor({
  label,
  value,
  onChange,
  errorLines,
  rows = 20,
  describedBy,
  readOnly = false,
}: {
  label: string;
  value: string;
  onChange: (value: string) => void;
  errorLines?: ReadonlySet<number>;
  rows?: number;
  describedBy?: string;
  readOnly?: boolean;
}) {
  const id = useId();
  const gutter = useRef<HTMLDivElement>(null);
  const lineCount = value.split("\n").length;
  return (
    <div className="json-editor">
      <label htmlFor={id} className="field-label">
        {label}
      </label>
      <div className="json-editor-frame" style={{ height: `calc(${rows} * 1.5em + 1rem)` }}>
        <div className="json-editor-gutter" ref={gutter} aria-hidden="true">
          {Array.from({ length: lineCount }, (_, i) => (
            // biome-ignore lint/suspicious/noArrayIndexKey: a line number is its own identity
            <div key={i} className={errorLines?.has(i + 1) ? "line-error" : undefined}>
              {i + 1}
            </div>
          ))}
        </div>
        <textarea
          id={id}
          className="json-editor-text"
          value={value}
          spellCheck={false}
          autoCapitalize="off"
          autoComplete="off"
          wrap="off"
          readOnly={readOnly}
          aria-describedby={describedBy}
          aria-invalid={errorLines && errorLines.size > 0 ? true : undefined}
          onChange={(e) => onChange(e.target.value)}
          onScroll={(e) => {
            if (gutter.current) gutter.current.scrollTop = e.currentTarget.scrollTop;
          }}
        />
      </div>
    </div>
  );
}

/** Parses JSON, reporting a syntax error with the line it is on. */
export function parseJson(
  text: string,
): { ok: true; value: unknown } | { ok: false; message: string; line?: number } {
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    const line = /line (\d+)/.exec(message)?.[1];
    if (line) return { ok: false, message, line: Number(line) };
    const position = /position (\d+)/.exec(message)?.[1];
    if (position) return { ok: false, message, line: text.slice(0, Number(position)).split("\n").length };
    return { ok: false, message };
  }
}
