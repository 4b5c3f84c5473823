/**
 * Ordered read-ahead: up to `window` reads in flight, results in order. Sources use it so a slow disk
 * (or a network file system) is kept busy while the pipeline consumes samples one by one.
 */

/** Default reads in flight: enough to hide latency, few enough to bound memory. */
export const READ_AHEAD = 16;

/** Yields `read(k)` for k = first … count-1 in order, with up to `window` reads running at once; `read` must not reject. */
export async function* readAhead<T>(first: number, count: number, read: (k: number) => Promise<T>, window = READ_AHEAD): AsyncGenerator<T> {
  const inFlight: Promise<T>[] = [];
  let next = first;
  const fill = () => {
    while (inFlight.length < window && next < count) inFlight.push(read(next++));
  };
  fill();
  while (inFlight.length > 0) {
    const r = await inFlight.shift()!;
    fill();
    yield r;
  }
}
