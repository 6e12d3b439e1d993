/**
 * How long texts are cut before embedding. A chunk is at most CHUNK_CHARS characters. The cut is made at
 * the last sentence end (`.`, `!`, `?` followed by a space, or a blank line) in the second half of the
 * window; failing that at the last whitespace there; failing that (one unbroken token) at the limit. The
 * next chunk starts CHUNK_OVERLAP characters before the cut, moved forward to the start of a word, so a
 * sentence that straddles a cut is found from either side. Chunks are trimmed; empty ones are dropped.
 */

export const CHUNK_CHARS = 1000;
export const CHUNK_OVERLAP = 150;

const SENTENCE_END = /[.!?。！？]["')\]]*\s+|\n\s*\n/g;

function cutPoint(window: string, minimum: number): number {
  let best = -1;
  SENTENCE_END.lastIndex = 0;
  for (let match = SENTENCE_END.exec(window); match !== null; match = SENTENCE_END.exec(window)) {
    const end = match.index + match[0].length;
    if (end >= minimum) best = end;
  }
  if (best > 0) return best;
  for (let i = window.length - 1; i >= minimum; i--) {
    if (/\s/.test(window[i] as string)) return i + 1;
  }
  return window.length;
}

export function chunkText(text: string, size = CHUNK_CHARS, overlap = CHUNK_OVERLAP): string[] {
  if (size <= overlap) throw new Error("chunk size must exceed the overlap");
  const chunks: string[] = [];
  let start = 0;
  while (start < text.length) {
    let end = Math.min(text.length, start + size);
    if (end < text.length) end = start + cutPoint(text.slice(start, end), Math.floor(size / 2));
    const chunk = text.slice(start, end).trim();
    if (chunk !== "") chunks.push(chunk);
    if (end >= text.length) break;
    let next = Math.max(start + 1, end - overlap);
    while (next < end && !/\s/.test(text[next - 1] as string)) next++;
    start = next;
  }
  return chunks;
}
