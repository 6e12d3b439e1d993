/**
 * The `local` embedder: feature hashing, no model and no network. Each text becomes a 512-dimensional
 * vector: every word (lower-cased, accents removed, common English stop words dropped, a few suffixes
 * stripped) adds 1, and each of its character trigrams (with word-boundary marks) adds 0.3, at a hashed
 * position with a hashed sign; word counts are damped (1 + ln tf) and the vector is L2-normalised.
 *
 * It is lexical, not semantic: texts score high when they share words or word pieces ("deploy",
 * "deployment"), and synonyms with no letters in common ("car", "automobile") score near zero. It is
 * deterministic, so tests can rely on it, and it suits demos and keyword-like recall. Use Bedrock or an
 * OpenAI-compatible model for meaning.
 */

export const HASHING_MODEL = "switchboard-hash-v1";
export const HASHING_DIMENSION = 512;
const TRIGRAM_WEIGHT = 0.3;

const STOP_WORDS = new Set(
  (
    "a an and are as at be but by for from has have he her his i in is it its of on or our she that the their " +
    "them they this to was we were what when where which who will with you your"
  ).split(" "),
);

/** FNV-1a, 32-bit. */
function hash(text: string, seed: number): number {
  let h = 0x811c9dc5 ^ seed;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

function stem(word: string): string {
  if (word.length > 5 && word.endsWith("ing")) return word.slice(0, -3);
  if (word.length > 4 && word.endsWith("ies")) return `${word.slice(0, -3)}y`;
  if (word.length > 4 && word.endsWith("ed")) return word.slice(0, -2);
  if (word.length > 3 && word.endsWith("s") && !word.endsWith("ss")) return word.slice(0, -1);
  return word;
}

export function words(text: string): string[] {
  return (
    text
      .normalize("NFKD")
      .replace(/\p{M}/gu, "")
      .toLowerCase()
      .match(/[\p{L}\p{N}]+/gu) ?? []
  )
    .filter((word) => !STOP_WORDS.has(word))
    .map(stem);
}

function add(vector: Float64Array, feature: string, weight: number): void {
  const h = hash(feature, 0);
  const sign = hash(feature, 0x9e3779b9) & 1 ? 1 : -1;
  vector[h % vector.length] = (vector[h % vector.length] as number) + sign * weight;
}

export function hashingEmbedding(text: string, dimension = HASHING_DIMENSION): number[] {
  const vector = new Float64Array(dimension);
  const counts = new Map<string, number>();
  for (const word of words(text)) counts.set(word, (counts.get(word) ?? 0) + 1);
  for (const [word, count] of counts) {
    const weight = 1 + Math.log(count);
    add(vector, `w:${word}`, weight);
    const marked = `^${word}$`;
    for (let i = 0; i + 3 <= marked.length; i++)
      add(vector, `t:${marked.slice(i, i + 3)}`, TRIGRAM_WEIGHT * weight);
  }
  let sum = 0;
  for (const value of vector) sum += value * value;
  // A text with no words at all (punctuation only) still needs a non-zero vector for cosine search.
  if (sum === 0) {
    vector[0] = 1;
    sum = 1;
  }
  const length = Math.sqrt(sum);
  return Array.from(vector, (value) => value / length);
}
