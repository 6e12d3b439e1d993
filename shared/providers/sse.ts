/**
 * A small server-sent events parser (the WHATWG event-stream format): `event:` and `data:` fields, events
 * ended by a blank line, `:` comments ignored, CR, LF or CRLF line ends. Providers' official SDKs are not
 * installed, and the format is small enough that owning it is cheaper than another dependency.
 */

export interface ServerSentEvent {
  event: string;
  data: string;
  id?: string;
}

export async function* parseSse(body: AsyncIterable<Uint8Array | string>): AsyncGenerator<ServerSentEvent> {
  const decoder = new TextDecoder();
  let buffer = "";
  let event = "";
  let data: string[] = [];
  let id: string | undefined;

  function* lines(final: boolean): Generator<string> {
    for (;;) {
      const match = /\r\n|\r|\n/.exec(buffer);
      // A lone CR at the end of a chunk may be the first half of a CRLF: wait for the next chunk.
      if (match === null || (match[0] === "\r" && match.index === buffer.length - 1 && !final)) return;
      const line = buffer.slice(0, match.index);
      buffer = buffer.slice(match.index + match[0].length);
      yield line;
    }
  }

  function take(line: string): ServerSentEvent | undefined {
    if (line === "") {
      const ready =
        data.length > 0
          ? { event: event || "message", data: data.join("\n"), ...(id === undefined ? {} : { id }) }
          : undefined;
      event = "";
      data = [];
      return ready;
    }
    if (line.startsWith(":")) return undefined;
    const colon = line.indexOf(":");
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "event") event = value;
    else if (field === "data") data.push(value);
    else if (field === "id") id = value;
    return undefined;
  }

  for await (const chunk of body) {
    buffer += typeof chunk === "string" ? chunk : decoder.decode(chunk, { stream: true });
    for (const line of lines(false)) {
      const ready = take(line);
      if (ready) yield ready;
    }
  }
  buffer += decoder.decode();
  for (const line of lines(true)) {
    const ready = take(line);
    if (ready) yield ready;
  }
  // A stream that ends without the final blank line still delivers its last event.
  if (buffer !== "") take(buffer);
  const last = take("");
  if (last) yield last;
}
