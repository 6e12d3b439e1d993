/** A step's streamed text as shown, and where in the whole text it starts (after a cut catch-up). */
export interface StreamedText {
  start: number;
  text: string;
}

/**
 * The text after one `agent.token`. With an offset the text is placed there, so the catch-up a connection
 * gets first (the whole text so far) replaces what it had; text that starts past what is known starts anew.
 */
export function withTokens(
  current: StreamedText | undefined,
  message: { text: string; offset?: number },
): StreamedText {
  const have = current ?? { start: 0, text: "" };
  if (message.offset === undefined) return { start: have.start, text: have.text + message.text };
  const at = message.offset - have.start;
  if (at < 0 || at > have.text.length) return { start: message.offset, text: message.text };
  return { start: have.start, text: have.text.slice(0, at) + message.text };
}
